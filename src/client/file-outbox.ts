/**
 * FileOutbox: a durable Outbox in one append-only log file, for Node and Deno (only node:fs,
 * node:path and process APIs that Deno's Node compatibility layer implements; bytes are
 * Uint8Array/DataView, never Buffer-only helpers). On Deno it needs --allow-read and
 * --allow-write for the log's directory (its lock is an OS file lock there: no pid check).
 *
 * File format (all integers little-endian):
 *
 *   file    := magic record*
 *   magic   := "WEIROBX" 0x01                          8 bytes; 0x01 is the format version
 *   record  := kind:u8 length:u32 crc:u32 body         9-byte header, then `length` body bytes
 *   crc     := CRC-32 (IEEE 802.3, as zlib's crc32) of kind, the 4 length bytes and body
 *   kind 1  Add     body := idLength:u16 id:utf8 envelope   (envelope = the rest of the body:
 *                                                            toBinary(EnvelopeSchema, env))
 *   kind 2  Remove  body := (idLength:u16 id:utf8)*         ids that are no longer live
 *
 * Replaying the records in order gives the live entries in append order. One append()/remove()
 * call is one write of one or more records; calls queued while a write and its fdatasync are in
 * flight are written together (group commit) and resolve together.
 *
 * Recovery on open: the first record that is incomplete (short header, or its body runs past
 * the end of the file) or fails its CRC ends the log: it and everything after it are the torn
 * tail of a write that never completed (a crash mid-write, or unsynced pages lost with
 * sync "none"), and are truncated away (`tornBytes` tells how many bytes). A record whose CRC is
 * right but whose kind is unknown, or whose body is malformed, was written that way: open()
 * throws WeirOutboxError instead of dropping it (and everything after it). So does a file that
 * does not start with the magic, so pointing the outbox at another file never truncates it.
 *
 * Compaction: once more than `compactAfterRemoved` entries were removed and fewer entries are
 * live than removed, the live Add records are copied to `<path>.tmp`, which is fsynced and
 * renamed over the log (atomic), then the directory is fsynced where the platform allows.
 * A `<path>.tmp` found on open is a compaction that never reached its rename, and is deleted.
 *
 * Single writer (Node; Deno uses an OS lock, see acquireDenoLock): `<path>.lock` is created
 * exclusively and holds the owner's pid. A lock whose
 * pid is not alive (or is this process's own pid but not held by this process: a container
 * restart often reuses the pid) is taken over. The check is per host and per pid namespace:
 * do not share one outbox directory between hosts or containers.
 */
import { open, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import process from "node:process";
import { WeirOutboxError, type Outbox, type OutboxEntry } from "./outbox.js";

export type FileOutboxOptions = {
  /** "always" (default): fdatasync before append/remove resolve, so resolved entries survive power loss. "none": page cache only (survives a process kill, not power loss). */
  sync?: "always" | "none";
  /** Compact once more entries than this were removed (and fewer are live than removed). Default 10,000. */
  compactAfterRemoved?: number;
};

const MAGIC = new Uint8Array([0x57, 0x45, 0x49, 0x52, 0x4f, 0x42, 0x58, 0x01]); // "WEIROBX" v1
const HEADER = 9;
const ADD = 1;
const REMOVE = 2;
const MAX_ID_BYTES = 0xffff;
/** Calls queued together are written together until their records reach this size. */
const GROUP_BYTES = 8 << 20;
/** Read window when copying or loading entries. */
const WINDOW = 1 << 20;
/** An unreadable lock file younger than this may be another opener between its create and its write. */
const LOCK_GRACE_MS = 5_000;

/** Paths (resolved) whose lock this process holds. */
const heldHere = new Set<string>();

/** Where a live entry's Add record is in the log. */
type Loc = { at: number; size: number; skip: number };

type Mutation =
  | { kind: "append"; entries: readonly OutboxEntry[]; resolve(): void; reject(err: unknown): void }
  | { kind: "remove"; ids: readonly string[]; resolve(): void; reject(err: unknown): void };
type Exclusive = { kind: "exclusive"; run(): Promise<unknown>; resolve(v: unknown): void; reject(err: unknown): void };
type Job = Mutation | Exclusive;

export class FileOutbox implements Outbox {
  /** Bytes of torn tail truncated away on open (0 when the log was clean). */
  readonly tornBytes: number;
  /** The last compaction failure, if compaction is failing (the log stays valid; it is retried later). */
  compactionError: Error | undefined;

  private readonly queue: Job[] = [];
  private draining = false;
  private state: "open" | "closed" | "failed" = "open";
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private removed: number;
  private compactRetryAt = 0;

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    private end: number,
    private readonly index: Map<string, Loc>,
    removed: number,
    tornBytes: number,
    private readonly sync: boolean,
    private readonly compactAfterRemoved: number,
  ) {
    this.removed = removed;
    this.tornBytes = tornBytes;
  }

  static async open(path: string, opts: FileOutboxOptions = {}): Promise<FileOutbox> {
    const sync = (opts.sync ?? "always") === "always";
    const compactAfterRemoved = opts.compactAfterRemoved ?? 10_000;
    if (!(compactAfterRemoved >= 0)) throw new WeirOutboxError(`compactAfterRemoved must be >= 0, got ${compactAfterRemoved}`);
    const key = resolve(path);
    await acquireLock(key);
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
      const buf = await readFile(key);
      const { index, removed, validEnd, needsMagic } = replay(key, buf);
      let end = validEnd;
      if (needsMagic) {
        await handle.truncate(0);
        await writeAll(handle, MAGIC, 0);
        end = MAGIC.length;
      } else if (validEnd < buf.length) {
        await handle.truncate(validEnd);
      }
      if (sync && (needsMagic || validEnd < buf.length)) await handle.sync();
      if (sync && created) await syncDir(dirname(key));
      const tornBytes = needsMagic ? 0 : buf.length - validEnd;
      outbox = new FileOutbox(key, handle, end, index, removed, tornBytes, sync, compactAfterRemoved);
      // A log left mostly dead (e.g. removals replayed after a crash) is compacted now; a failure leaves it valid.
      await outbox.enqueueExclusive(() => outbox!.maybeCompact()).catch(() => {});
      outbox.check();
      return outbox;
    } catch (err) {
      await (outbox?.handle ?? handle)?.close().catch(() => {});
      await releaseLock(key);
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
    return this.enqueueExclusive(async () => {
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

  append(entries: readonly OutboxEntry[]): Promise<void> {
    for (const e of entries) {
      // UTF-8 is at most 3 bytes per UTF-16 unit: only long ids need encoding to check.
      if (e.id.length * 3 > MAX_ID_BYTES && new TextEncoder().encode(e.id).length > MAX_ID_BYTES) {
        return Promise.reject(new WeirOutboxError(`event id of more than ${MAX_ID_BYTES} UTF-8 bytes`));
      }
    }
    return new Promise((resolve, reject) => this.enqueue({ kind: "append", entries, resolve, reject }));
  }

  remove(ids: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: "remove", ids, resolve, reject }));
  }

  close(): Promise<void> {
    this.closing ??= this.enqueueExclusive(async () => {
      if (this.state !== "closed") {
        this.state = "closed";
        await this.handle.close().catch(() => {});
        await releaseLock(this.path);
      }
    });
    return this.closing;
  }

  private check(): void {
    if (this.state === "closed") throw new WeirOutboxError(`outbox ${this.path} is closed`);
    if (this.state === "failed") throw new WeirOutboxError(`outbox ${this.path} is unusable after an I/O error: ${this.failure?.message}`, { cause: this.failure });
  }

  private enqueue(job: Job): void {
    if (this.closing !== undefined && job.kind !== "exclusive") {
      job.reject(new WeirOutboxError(`outbox ${this.path} is closed`));
      return;
    }
    this.queue.push(job);
    if (!this.draining) void this.drain();
  }

  private enqueueExclusive<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind: "exclusive", run, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let job = this.queue[0]; job !== undefined; job = this.queue[0]) {
        if (job.kind === "exclusive") {
          this.queue.shift();
          try {
            job.resolve(await job.run());
          } catch (err) {
            job.reject(err);
          }
          continue;
        }
        const group = this.takeGroup();
        try {
          await this.commit(group);
          for (const m of group) m.resolve();
        } catch (err) {
          for (const m of group) m.reject(err);
        }
        if (this.state === "open") await this.maybeCompact().catch(() => {});
      }
    } finally {
      this.draining = false;
    }
  }

  /** The mutations at the head of the queue, up to GROUP_BYTES of envelope bytes (at least one). */
  private takeGroup(): Mutation[] {
    let n = 0;
    let bytes = 0;
    for (const job of this.queue) {
      if (job.kind === "exclusive" || (n > 0 && bytes >= GROUP_BYTES)) break;
      n++;
      if (job.kind === "append") for (const e of job.entries) bytes += e.bytes.length;
    }
    return this.queue.splice(0, n) as Mutation[];
  }

  /** Writes the group's records in one write (then fdatasync), then applies them to the index. */
  private async commit(group: Mutation[]): Promise<void> {
    this.check();
    const encoder = new TextEncoder();
    // What each id's liveness is after the mutations so far in this group.
    const overlay = new Map<string, boolean>();
    const isLive = (id: string) => overlay.get(id) ?? this.index.has(id);
    type Rec = { kind: number; ids: Uint8Array[]; bytes?: Uint8Array; id?: string; removes?: string[] };
    const recs: Rec[] = [];
    let total = 0;
    for (const m of group) {
      if (m.kind === "append") {
        for (const e of m.entries) {
          const id = encoder.encode(e.id);
          overlay.set(e.id, true);
          recs.push({ kind: ADD, ids: [id], bytes: e.bytes, id: e.id });
          total += HEADER + 2 + id.length + e.bytes.length;
        }
      } else {
        const ids: Uint8Array[] = [];
        const removes: string[] = [];
        let body = 0;
        for (const idStr of m.ids) {
          if (!isLive(idStr)) continue;
          overlay.set(idStr, false);
          const id = encoder.encode(idStr);
          ids.push(id);
          removes.push(idStr);
          body += 2 + id.length;
        }
        if (ids.length > 0) {
          recs.push({ kind: REMOVE, ids, removes });
          total += HEADER + body;
        }
      }
    }
    if (recs.length === 0) return;

    const buf = new Uint8Array(total);
    const view = new DataView(buf.buffer);
    const applied: Array<() => void> = [];
    let removedNow = 0;
    let p = 0;
    for (const r of recs) {
      const at = p;
      p += HEADER;
      for (const id of r.ids) {
        view.setUint16(p, id.length, true);
        buf.set(id, p + 2);
        p += 2 + id.length;
      }
      const skip = p - at;
      if (r.bytes !== undefined) {
        buf.set(r.bytes, p);
        p += r.bytes.length;
      }
      buf[at] = r.kind;
      view.setUint32(at + 1, p - at - HEADER, true);
      view.setUint32(at + 5, recordCrc(buf, at, p), true);
      const loc: Loc = { at: this.end + at, size: p - at, skip };
      if (r.kind === ADD) {
        const id = r.id!;
        applied.push(() => this.index.set(id, loc));
      } else {
        const removes = r.removes!;
        removedNow += removes.length;
        applied.push(() => {
          for (const id of removes) this.index.delete(id);
        });
      }
    }

    try {
      await writeAll(this.handle, buf, this.end);
    } catch (err) {
      // Take the partial write back so the next write starts at a record boundary.
      try {
        await this.handle.truncate(this.end);
      } catch {
        this.fail(err);
      }
      throw new WeirOutboxError(`outbox ${this.path}: write failed: ${messageOf(err)}`, { cause: err });
    }
    if (this.sync) {
      try {
        await this.handle.datasync();
      } catch (err) {
        // After a failed fsync the kernel may have dropped the dirty pages: nothing written can be trusted.
        this.fail(err);
        throw new WeirOutboxError(`outbox ${this.path}: fdatasync failed: ${messageOf(err)}`, { cause: err });
      }
    }
    this.end += total;
    for (const apply of applied) apply();
    this.removed += removedNow;
  }

  private fail(err: unknown): void {
    this.state = "failed";
    this.failure = err instanceof Error ? err : new Error(String(err));
  }

  private async maybeCompact(): Promise<void> {
    if (this.removed <= this.compactAfterRemoved || this.index.size >= this.removed || this.removed < this.compactRetryAt) return;
    try {
      await this.compact();
      this.compactionError = undefined;
      this.compactRetryAt = 0;
    } catch (err) {
      this.compactionError = err instanceof Error ? err : new Error(String(err));
      this.compactRetryAt = this.removed + Math.max(1, this.compactAfterRemoved);
      throw err;
    }
  }

  /** Copies the live Add records (verbatim: same bytes, same CRC) to path.tmp and renames it over the log. */
  private async compact(): Promise<void> {
    const tmpPath = `${this.path}.tmp`;
    const next = new Map<string, Loc>();
    let end = 0;
    const tmp = await open(tmpPath, "w");
    try {
      const reader = new WindowReader(this.handle);
      let out = new Uint8Array(WINDOW);
      let used = 0;
      const flush = async () => {
        await writeAll(tmp, out.subarray(0, used), end - used);
        used = 0;
      };
      out.set(MAGIC, 0);
      used = end = MAGIC.length;
      for (const [id, loc] of this.index) {
        const rec = await reader.read(loc.at, loc.size);
        if (used + rec.length > out.length) {
          await flush();
          if (rec.length > out.length) out = new Uint8Array(rec.length);
        }
        out.set(rec, used);
        used += rec.length;
        next.set(id, { at: end, size: loc.size, skip: loc.skip });
        end += rec.length;
      }
      await flush();
      await tmp.sync();
    } catch (err) {
      await tmp.close().catch(() => {});
      await unlinkIfExists(tmpPath).catch(() => {});
      throw err;
    }
    await tmp.close();
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

/** Replays a log image: the live entries' locations, how many Add records are dead, where the valid records end. */
function replay(path: string, buf: Uint8Array): { index: Map<string, Loc>; removed: number; validEnd: number; needsMagic: boolean } {
  const index = new Map<string, Loc>();
  if (buf.length < MAGIC.length) {
    // Empty, or a crash while the file was being created: only a prefix of the magic is ours.
    if (!buf.every((b, i) => b === MAGIC[i])) throw new WeirOutboxError(`${path} is not a Weir outbox file`);
    return { index, removed: 0, validEnd: 0, needsMagic: true };
  }
  for (let i = 0; i < MAGIC.length - 1; i++) if (buf[i] !== MAGIC[i]) throw new WeirOutboxError(`${path} is not a Weir outbox file`);
  if (buf[MAGIC.length - 1] !== MAGIC[MAGIC.length - 1]) throw new WeirOutboxError(`${path}: unsupported outbox format version ${buf[MAGIC.length - 1]}`);

  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const corrupt = (at: number, what: string) => new WeirOutboxError(`${path}: record at offset ${at} ${what}; the outbox is damaged (move the file away to start empty)`);
  let removed = 0;
  let p = MAGIC.length;
  while (p < buf.length) {
    if (buf.length - p < HEADER) break;
    const kind = buf[p]!;
    const size = HEADER + view.getUint32(p + 1, true);
    if (size > buf.length - p) break;
    if (view.getUint32(p + 5, true) !== recordCrc(buf, p, p + size)) break;
    const idAt = (q: number): { id: string; next: number } => {
      if (q + 2 > p + size) throw corrupt(p, "has a truncated id");
      const n = view.getUint16(q, true);
      if (q + 2 + n > p + size) throw corrupt(p, "has an id running past its end");
      try {
        return { id: decoder.decode(buf.subarray(q + 2, q + 2 + n)), next: q + 2 + n };
      } catch {
        throw corrupt(p, "has an id that is not UTF-8");
      }
    };
    if (kind === ADD) {
      const { id, next } = idAt(p + HEADER);
      index.set(id, { at: p, size, skip: next - p });
    } else if (kind === REMOVE) {
      for (let q = p + HEADER; q < p + size; ) {
        const { id, next } = idAt(q);
        if (index.delete(id)) removed++;
        q = next;
      }
    } else {
      throw corrupt(p, `has unknown kind ${kind} (written by a newer Weir?)`);
    }
    p += size;
  }
  return { index, removed, validEnd: p, needsMagic: false };
}

/** Sequential reads of increasing ranges through a window, so copying many small records is few syscalls. */
class WindowReader {
  private buf = new Uint8Array(0);
  private start = 0;
  constructor(private readonly handle: FileHandle) {}

  /** A view of [pos, pos + len) valid until the next read. */
  async read(pos: number, len: number): Promise<Uint8Array> {
    if (pos < this.start || pos + len > this.start + this.buf.length) {
      const buf = new Uint8Array(Math.max(WINDOW, len));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await this.handle.read(buf, got, buf.length - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < len) throw new WeirOutboxError(`outbox: short read at offset ${pos} (${got} of ${len} bytes)`);
      this.buf = buf.subarray(0, got);
      this.start = pos;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + len);
  }
}

async function writeAll(handle: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    done += bytesWritten;
  }
}

/** Makes a rename or create in `dir` durable; platforms that cannot open or fsync a directory (Windows) skip it. */
async function syncDir(dir: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await open(dir, "r");
    await h.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms without directory fsync.
  } finally {
    await h?.close().catch(() => {});
  }
}

/** The part of Deno's API for an OS file lock (flock), which the kernel drops when the process dies. */
type DenoLockFile = { tryLock(exclusive?: boolean): Promise<boolean>; truncate(len?: number): Promise<void>; write(p: Uint8Array): Promise<number>; close(): void };
const deno = (globalThis as { Deno?: { open(path: string, opts: { read: boolean; write: boolean; create: boolean }): Promise<DenoLockFile> } }).Deno;
const denoLocks = new Map<string, DenoLockFile>();

/**
 * On Deno the lock is an OS lock on `<path>.lock`: no stale locks after a crash, and no pid to
 * check, so no --allow-run (which a sandboxed relay should not need). The file stays (unlinking
 * it could let two processes lock different files); it holds the pid for people to read.
 */
async function acquireDenoLock(key: string, api: NonNullable<typeof deno>): Promise<void> {
  const lockPath = `${key}.lock`;
  if (denoLocks.has(key)) throw new WeirOutboxError(`outbox ${key} is already open in this process`);
  const file = await api.open(lockPath, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    throw new WeirOutboxError(`outbox ${key} in use by another process (lock file ${lockPath} is locked)`);
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${process.pid}\n`));
  denoLocks.set(key, file);
  heldHere.add(key);
}

async function acquireLock(key: string): Promise<void> {
  if (deno) return acquireDenoLock(key, deno);
  const lockPath = `${key}.lock`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const h = await open(lockPath, "wx");
      try {
        await h.writeFile(`${process.pid}\n`);
      } finally {
        await h.close();
      }
      heldHere.add(key);
      return;
    } catch (err) {
      if (codeOf(err) !== "EEXIST") throw err;
    }
    let text: string;
    try {
      text = await readFile(lockPath, "utf8");
    } catch (err) {
      if (codeOf(err) === "ENOENT") continue; // released meanwhile
      throw err;
    }
    const digits = /^\s*(\d+)\s*$/.exec(text)?.[1];
    const pid = digits === undefined ? undefined : Number(digits);
    if (pid !== undefined) {
      if (pid === process.pid) {
        if (heldHere.has(key)) throw new WeirOutboxError(`outbox ${key} is already open in this process (pid ${pid})`);
        // Our pid, but not our lock: a previous incarnation (containers restart with the same pid).
      } else {
        const alive = pidAlive(pid);
        if (alive !== false) {
          // Deno without --allow-run cannot signal: say so rather than blame a pid that may be gone.
          const why = alive === true ? "" : `; cannot tell whether it is alive: ${alive.message}`;
          throw new WeirOutboxError(`outbox ${key} in use by pid ${pid} (lock file ${lockPath}${why})`);
        }
      }
    } else {
      // No pid yet: another opener may be between creating the file and writing it.
      let age = Infinity;
      try {
        age = Date.now() - (await stat(lockPath)).mtimeMs;
      } catch (err) {
        if (codeOf(err) === "ENOENT") continue;
        throw err;
      }
      if (age < LOCK_GRACE_MS) throw new WeirOutboxError(`outbox ${key} is being opened by another process (lock file ${lockPath} has no pid yet)`);
    }
    await unlinkIfExists(lockPath); // stale: take it over
  }
  throw new WeirOutboxError(`outbox ${key}: could not take the lock file ${lockPath}`);
}

async function releaseLock(key: string): Promise<void> {
  if (!heldHere.delete(key)) return;
  const denoLock = denoLocks.get(key);
  if (denoLock) {
    denoLocks.delete(key);
    return denoLock.close();
  }
  await unlinkIfExists(`${key}.lock`).catch(() => {});
}

/** true, false (ESRCH), or the error that kept us from telling (never steal a lock on doubt). */
function pidAlive(pid: number): boolean | Error {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = codeOf(err);
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true; // alive, someone else's
    return err instanceof Error ? err : new Error(String(err));
  }
}

async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (codeOf(err) !== "ENOENT") throw err;
  }
}

function codeOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE) of a record: its kind and length bytes, then its body (the crc field itself is skipped). */
function recordCrc(buf: Uint8Array, at: number, end: number): number {
  return ~crc32(crc32(~0, buf, at, at + 5), buf, at + HEADER, end) >>> 0;
}

function crc32(crc: number, buf: Uint8Array, from: number, to: number): number {
  const table = (crcTable ??= makeCrcTable());
  for (let i = from; i < to; i++) crc = table[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

function makeCrcTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
