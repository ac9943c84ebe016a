/**
 * FileOutbox: a durable Outbox in one append-only log file, for Node and Deno (only node:fs,
 * node:path and process APIs that Deno's Node compatibility layer implements; bytes are
 * Uint8Array, never Buffer-only helpers). On Deno it needs --allow-read and --allow-write for
 * the log's directory.
 *
 * The log's format (CRC'd Add and Remove records) and its replay are outbox-log.ts; the
 * single-writer lock on `<path>.lock` (a pid file on Node, an OS file lock on Deno) is
 * file-lock.ts. One append()/remove() call is one write of one or more records; calls queued
 * while a write and its fdatasync are in flight are written together and resolve together
 * (group-commit.ts).
 *
 * Recovery on open: the torn tail that replay finds (a crash mid-write, or unsynced pages lost
 * with sync "none") is truncated away (`tornBytes` tells how many bytes). A damaged record, or a
 * file that is not an outbox, makes open() throw and leaves the file as it is.
 *
 * Compaction: once more than `compactAfterRemoved` entries were removed and fewer entries are
 * live than removed, the live Add records are copied to `<path>.tmp`, which is fsynced and
 * renamed over the log (atomic), then the directory is fsynced where the platform allows.
 * A `<path>.tmp` found on open is a compaction that never reached its rename, and is deleted.
 */
import { open, readFile, rename, type FileHandle } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { asError, codeOf, copyToNewFile, syncDir, unlinkIfExists, WindowReader, writeAll } from "./file-io.js";
import { acquireFileLock, type FileLock } from "./file-lock.js";
import { GroupCommitQueue } from "./group-commit.js";
import { WeirOutboxError, type Outbox, type OutboxEntry } from "./outbox.js";
import { checkIdFits, encodeRecords, LOG_MAGIC, replayLog, type LogRecord, type RecordLoc } from "./outbox-log.js";

export type FileOutboxOptions = {
  /** "always" (default): fdatasync before append/remove resolve, so resolved entries survive power loss. "none": page cache only (survives a process kill, not power loss). */
  sync?: "always" | "none";
  /** Compact once more entries than this were removed (and fewer are live than removed). Default 10,000. */
  compactAfterRemoved?: number;
};

/** Calls queued together are written together until their records reach this size. */
const GROUP_BYTES = 8 << 20;

type Mutation = { kind: "append"; entries: readonly OutboxEntry[] } | { kind: "remove"; ids: readonly string[] };

/** What open() found in the log. */
type Recovered = { end: number; index: Map<string, RecordLoc>; removed: number; tornBytes: number };

export class FileOutbox implements Outbox {
  /** Bytes of torn tail truncated away on open (0 when the log was clean). */
  readonly tornBytes: number;
  /** The last compaction failure, if compaction is failing (the log stays valid; it is retried later). */
  compactionError: Error | undefined;

  private readonly queue = new GroupCommitQueue<Mutation>({
    commit: (group) => this.commit(group),
    weigh: (m) => (m.kind === "append" ? m.entries.reduce((n, e) => n + e.bytes.length, 0) : 0),
    maxGroupWeight: GROUP_BYTES,
    afterGroup: async () => {
      if (this.state === "open") await this.maybeCompact();
    },
  });
  private state: "open" | "closed" | "failed" = "open";
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  /** Where each live entry's Add record is in the log, in append order. */
  private readonly index: Map<string, RecordLoc>;
  private end: number;
  private removed: number;
  private compactRetryAt = 0;

  private constructor(
    readonly path: string,
    private readonly lock: FileLock,
    private handle: FileHandle,
    recovered: Recovered,
    private readonly sync: boolean,
    private readonly compactAfterRemoved: number,
  ) {
    ({ index: this.index, end: this.end, removed: this.removed, tornBytes: this.tornBytes } = recovered);
  }

  static async open(path: string, opts: FileOutboxOptions = {}): Promise<FileOutbox> {
    const sync = (opts.sync ?? "always") === "always";
    const compactAfterRemoved = opts.compactAfterRemoved ?? 10_000;
    if (!(compactAfterRemoved >= 0)) throw new WeirOutboxError(`compactAfterRemoved must be >= 0, got ${compactAfterRemoved}`);
    const key = resolve(path);
    const lock = await acquireFileLock(key);
    let handle: FileHandle | undefined;
    let outbox: FileOutbox | undefined;
    try {
      await unlinkIfExists(`${key}.tmp`);
      let created = false;
      try {
        handle = await open(key, "r+");
      } catch (err) {
        if (codeOf(err) !== "ENOENT") throw err;
        handle = await open(key, "wx+");
        created = true;
      }
      const image = await readFile(key);
      const { live, removed, validEnd, needsMagic } = replayLog(image, key);
      let end = validEnd;
      if (needsMagic) {
        await handle.truncate(0);
        await writeAll(handle, LOG_MAGIC, 0);
        end = LOG_MAGIC.length;
      } else if (validEnd < image.length) {
        await handle.truncate(validEnd);
      }
      if (sync && (needsMagic || validEnd < image.length)) await handle.sync();
      if (sync && created) await syncDir(dirname(key));
      const tornBytes = needsMagic ? 0 : image.length - validEnd;
      outbox = new FileOutbox(key, lock, handle, { end, index: live, removed, tornBytes }, sync, compactAfterRemoved);
      // A log left mostly dead (e.g. removals replayed after a crash) is compacted now; a failure leaves it valid.
      await outbox.queue.exclusive(() => outbox!.maybeCompact()).catch(() => {});
      outbox.check();
      return outbox;
    } catch (err) {
      await (outbox?.handle ?? handle)?.close().catch(() => {});
      await lock.release();
      throw err;
    }
  }

  /** Live entries. */
  get size(): number {
    return this.index.size;
  }

  /** Bytes in the log file. */
  get fileBytes(): number {
    return this.end;
  }

  load(): Promise<OutboxEntry[]> {
    return this.queue.exclusive(async () => {
      this.check();
      const reader = new WindowReader(this.handle);
      const out: OutboxEntry[] = [];
      for (const [id, loc] of this.index) {
        const bytes = await reader.read(loc.at + loc.skip, loc.size - loc.skip);
        out.push({ id, bytes: bytes.slice() });
      }
      return out;
    });
  }

  async append(entries: readonly OutboxEntry[]): Promise<void> {
    for (const e of entries) checkIdFits(e.id);
    // Queued synchronously (no await before it): calls are written in call order.
    return this.mutate({ kind: "append", entries });
  }

  remove(ids: readonly string[]): Promise<void> {
    return this.mutate({ kind: "remove", ids });
  }

  close(): Promise<void> {
    this.closing ??= this.queue.exclusive(async () => {
      if (this.state !== "closed") {
        this.state = "closed";
        await this.handle.close().catch(() => {});
        await this.lock.release();
      }
    });
    return this.closing;
  }

  private check(): void {
    if (this.state === "closed") throw new WeirOutboxError(`outbox ${this.path} is closed`);
    if (this.state === "failed")
      throw new WeirOutboxError(`outbox ${this.path} is unusable after an I/O error: ${this.failure?.message}`, { cause: this.failure });
  }

  private mutate(m: Mutation): Promise<void> {
    // close() is queued behind the calls made before it; nothing after it is written.
    if (this.closing !== undefined) return Promise.reject(new WeirOutboxError(`outbox ${this.path} is closed`));
    return this.queue.mutate(m);
  }

  /** Writes the group's records in one write (then fdatasync), then applies them to the index. */
  private async commit(group: readonly Mutation[]): Promise<void> {
    this.check();
    const records = this.recordsOf(group);
    if (records.length === 0) return;
    const { bytes, locs } = encodeRecords(records);
    try {
      await writeAll(this.handle, bytes, this.end);
    } catch (err) {
      // Take the partial write back so the next write starts at a record boundary.
      try {
        await this.handle.truncate(this.end);
      } catch {
        this.fail(err);
      }
      throw new WeirOutboxError(`outbox ${this.path}: write failed: ${asError(err).message}`, { cause: err });
    }
    if (this.sync) {
      try {
        await this.handle.datasync();
      } catch (err) {
        // After a failed fsync the kernel may have dropped the dirty pages: nothing written can be trusted.
        this.fail(err);
        throw new WeirOutboxError(`outbox ${this.path}: fdatasync failed: ${asError(err).message}`, { cause: err });
      }
    }
    records.forEach((r, k) => {
      if (r.kind === "add") {
        const loc = locs[k]!;
        loc.at += this.end; // encodeRecords placed it in `bytes`, which went to the end of the log
        this.index.set(r.id, loc);
      } else {
        for (const id of r.ids) this.index.delete(id);
        this.removed += r.ids.length;
      }
    });
    this.end += bytes.length;
  }

  /** An Add per appended entry; per remove() call, a Remove of the ids live at that point (so `removed` counts dead Adds). */
  private recordsOf(group: readonly Mutation[]): LogRecord[] {
    // Each id's liveness after the mutations so far in this group.
    const overlay = new Map<string, boolean>();
    const records: LogRecord[] = [];
    for (const m of group) {
      if (m.kind === "append") {
        for (const e of m.entries) {
          overlay.set(e.id, true);
          records.push({ kind: "add", id: e.id, bytes: e.bytes });
        }
        continue;
      }
      const ids: string[] = [];
      for (const id of m.ids) {
        if (!(overlay.get(id) ?? this.index.has(id))) continue;
        overlay.set(id, false);
        ids.push(id);
      }
      if (ids.length > 0) records.push({ kind: "remove", ids });
    }
    return records;
  }

  private fail(err: unknown): void {
    this.state = "failed";
    this.failure = asError(err);
  }

  private async maybeCompact(): Promise<void> {
    if (this.removed <= this.compactAfterRemoved || this.index.size >= this.removed || this.removed < this.compactRetryAt) return;
    try {
      await this.compact();
      this.compactionError = undefined;
      this.compactRetryAt = 0;
    } catch (err) {
      this.compactionError = asError(err);
      this.compactRetryAt = this.removed + Math.max(1, this.compactAfterRemoved);
      throw err;
    }
  }

  /** Copies the live Add records (verbatim: same bytes, same CRC) to path.tmp and renames it over the log. */
  private async compact(): Promise<void> {
    const tmpPath = `${this.path}.tmp`;
    const next = new Map<string, RecordLoc>();
    let end = LOG_MAGIC.length;
    for (const [id, loc] of this.index) {
      next.set(id, { ...loc, at: end });
      end += loc.size;
    }
    await copyToNewFile(this.handle, LOG_MAGIC, this.index.values(), tmpPath);
    // Close the log before renaming over it (Windows does not rename over an open file).
    await this.handle.close().catch(() => {});
    try {
      await rename(tmpPath, this.path);
    } catch (err) {
      await unlinkIfExists(tmpPath).catch(() => {});
      try {
        this.handle = await open(this.path, "r+");
      } catch (reopenErr) {
        this.fail(reopenErr);
      }
      throw err;
    }
    await syncDir(dirname(this.path));
    try {
      this.handle = await open(this.path, "r+");
    } catch (err) {
      this.fail(err);
      throw err;
    }
    this.index.clear();
    for (const [id, loc] of next) this.index.set(id, loc);
    this.end = end;
    this.removed = 0;
  }
}
