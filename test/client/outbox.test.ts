/**
 * Outboxes: the Outbox contract for MemoryOutbox and FileOutbox, then FileOutbox's durability:
 * reopen, torn and garbage tails, compaction, its lock file, and a writer killed with SIGKILL
 * mid-append (test/client/fixtures/outbox-writer.ts). The log format on its own:
 * outbox-log.test.ts; the lock: file-lock.test.ts; IndexedDbOutbox: indexeddb-outbox.test.ts.
 */
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, type FileHandle, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { FileOutbox } from "../../src/client/file-outbox.js";
import { MemoryOutbox, WeirOutboxError, type Outbox, type OutboxEntry } from "../../src/client/outbox.js";
import { CRASH_BATCH, entryAt } from "./fixtures/outbox-data.js";

let dir: string;
let log: string;
const opened: Outbox[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-outbox-"));
  log = join(dir, "outbox.log");
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close().catch(() => {})));
  await rm(dir, { recursive: true, force: true });
});

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => entryAt(from + k));
const ids = (entries: readonly OutboxEntry[]) => entries.map((e) => e.id);

async function openFile(opts: Parameters<typeof FileOutbox.open>[1] = {}): Promise<FileOutbox> {
  const o = await FileOutbox.open(log, opts);
  opened.push(o);
  return o;
}

/** Closes and reopens the log; returns what load() gives and the reopened outbox. */
async function reopen(o: FileOutbox, opts: Parameters<typeof FileOutbox.open>[1] = {}): Promise<{ outbox: FileOutbox; entries: OutboxEntry[] }> {
  await o.close();
  const outbox = await openFile(opts);
  return { outbox, entries: await outbox.load() };
}

function expectEntries(actual: readonly OutboxEntry[], expected: readonly OutboxEntry[]): void {
  expect(ids(actual)).toEqual(ids(expected));
  actual.forEach((e, k) => expect(Buffer.from(e.bytes).equals(Buffer.from(expected[k]!.bytes)), e.id).toBe(true));
}

/** Parses a log with zlib's CRC-32, independently of outbox-log.ts: the format its header documents. */
function parseLog(buf: Buffer): Array<{ kind: number; ids: string[]; bytes?: Buffer }> {
  expect(buf.subarray(0, 8).toString("latin1")).toBe("WEIROBX\x01");
  const out: Array<{ kind: number; ids: string[]; bytes?: Buffer }> = [];
  for (let p = 8; p < buf.length; ) {
    const kind = buf[p]!;
    const len = buf.readUInt32LE(p + 1);
    const body = buf.subarray(p + 9, p + 9 + len);
    expect(buf.readUInt32LE(p + 5)).toBe(crc32(body, crc32(buf.subarray(p, p + 5))));
    const idAt = (q: number) => ({ id: body.toString("utf8", q + 2, q + 2 + body.readUInt16LE(q)), next: q + 2 + body.readUInt16LE(q) });
    if (kind === 1) {
      const { id, next } = idAt(0);
      out.push({ kind, ids: [id], bytes: body.subarray(next) });
    } else {
      const rec = { kind, ids: [] as string[] };
      for (let q = 0; q < body.length; ) {
        const { id, next } = idAt(q);
        rec.ids.push(id);
        q = next;
      }
      out.push(rec);
    }
    p += 9 + len;
  }
  return out;
}

const impls: Array<[string, () => Promise<Outbox>]> = [
  ["MemoryOutbox", () => Promise.resolve(new MemoryOutbox())],
  ["FileOutbox sync always", () => openFile()],
  ["FileOutbox sync none", () => openFile({ sync: "none" })],
];

describe.each(impls)("%s: the Outbox contract", (_name, make) => {
  test("load gives the entries in append order; remove forgets them; unknown ids are ignored", async () => {
    const o = await make();
    expect(await o.load()).toEqual([]);
    await o.append(range(0, 5));
    await o.append([]);
    await o.append(range(5, 12));
    await o.remove(["e3", "e0", "nope", "e11"]);
    await o.remove([]);
    expectEntries(await o.load(), [...range(1, 3), ...range(4, 11)]);
    await o.append([entryAt(0)]); // a removed id may come back (the client re-sends it): it goes last
    expectEntries(await o.load(), [...range(1, 3), ...range(4, 11), entryAt(0)]);
    await o.close();
    await expect(o.append([entryAt(99)])).rejects.toThrow(WeirOutboxError);
  });

  test("concurrent appends and removes, none awaited before the next: the state is the calls' order", async () => {
    const o = await make();
    const model = new Map<string, OutboxEntry>();
    const calls: Array<Promise<void>> = [];
    let next = 0;
    for (let round = 0; round < 300; round++) {
      if (round % 3 === 2 && model.size > 0) {
        const gone = [...model.keys()].filter((_, k) => k % 2 === 0).slice(0, 4);
        gone.forEach((id) => model.delete(id));
        calls.push(o.remove([...gone, `missing-${round}`]));
      } else {
        const batch = range(next, next + 1 + (round % 4));
        next += batch.length;
        batch.forEach((e) => model.set(e.id, e));
        calls.push(o.append(batch));
      }
    }
    await Promise.all(calls);
    expectEntries(await o.load(), [...model.values()]);
    if (o instanceof FileOutbox) {
      expect(o.size).toBe(model.size);
      expectEntries((await reopen(o)).entries, [...model.values()]);
    }
  });
});

describe("FileOutbox", () => {
  test("entries and removals survive reopen, in order; the file is the documented format", async () => {
    const o = await openFile();
    await o.append(range(0, 10));
    await o.append(range(10, 20));
    await o.remove(["e4", "e15", "e0"]);
    await o.append([{ id: "é-ünïcode-🙂", bytes: new Uint8Array([1, 2, 3]) }]);
    const expected = [...range(1, 4), ...range(5, 15), ...range(16, 20), { id: "é-ünïcode-🙂", bytes: new Uint8Array([1, 2, 3]) }];
    const { outbox, entries } = await reopen(o);
    expectEntries(entries, expected);
    expect(outbox.tornBytes).toBe(0);

    const recs = parseLog(await readFile(log));
    expect(recs.map((r) => r.kind)).toEqual([...Array<number>(20).fill(1), 2, 1]);
    expect(recs[20]!.ids).toEqual(["e4", "e15", "e0"]);
    expect(recs[21]!.ids).toEqual(["é-ünïcode-🙂"]);
    expect(recs[7]!.bytes!.equals(Buffer.from(entryAt(7).bytes))).toBe(true);
  });

  test("one write per call: a call's entries are one group of records, appended at the end", async () => {
    const o = await openFile();
    await o.append(range(0, 3));
    const size = (await stat(log)).size;
    expect(o.fileBytes).toBe(size);
    await o.append(range(3, 4));
    const added = 9 + 2 + "e3".length + entryAt(3).bytes.length;
    expect((await stat(log)).size).toBe(size + added);
  });

  test("a torn tail (the last record cut short) is truncated away; the complete records survive and the log is usable", async () => {
    let o = await openFile();
    await o.append(range(0, 10));
    await o.append(range(10, 20));
    await o.close();
    const full = (await stat(log)).size;
    await truncate(log, full - 3);
    o = await openFile();
    expect(o.tornBytes).toBe(9 + 2 + 3 + entryAt(19).bytes.length - 3);
    expect((await stat(log)).size).toBe(full - (9 + 2 + 3 + entryAt(19).bytes.length));
    expectEntries(await o.load(), range(0, 19));
    await o.append(range(20, 25));
    const { entries } = await reopen(o);
    expectEntries(entries, [...range(0, 19), ...range(20, 25)]);
  });

  test("a header cut short, random garbage, and a zero-filled tail are torn tails too", async () => {
    let o = await openFile();
    await o.append(range(0, 5));
    await o.close();
    const clean = (await stat(log)).size;
    for (const tail of [new Uint8Array([1, 7, 0]), Uint8Array.from({ length: 300 }, (_, k) => (k * 131 + 17) & 0xff), new Uint8Array(4096)]) {
      await appendFile(log, tail);
      o = await openFile();
      expect(o.tornBytes).toBe(tail.length);
      expectEntries(await o.load(), range(0, 5));
      expect((await stat(log)).size).toBe(clean);
      await o.close();
    }
  });

  test("a record damaged in the middle ends the log there (the first bad CRC is where replay stops)", async () => {
    const o = await openFile();
    await o.append(range(0, 3));
    await o.append(range(3, 6));
    await o.close();
    const buf = await readFile(log);
    const e3 = parseLogOffsets(buf)[3]!;
    buf[e3 + 20] = buf[e3 + 20]! ^ 0x40;
    await writeFile(log, buf);
    const o2 = await openFile();
    expectEntries(await o2.load(), range(0, 3));
    expect(o2.tornBytes).toBe(buf.length - e3);
  });

  test("a record with a good CRC but an unknown kind is an error, not a silent loss; so is a file that is not an outbox", async () => {
    const o = await openFile();
    await o.append(range(0, 3));
    await o.close();
    const body = Buffer.from("future");
    const head = Buffer.from([9, body.length, 0, 0, 0]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32(body, crc32(head)));
    await appendFile(log, Buffer.concat([head, crc, body]));
    const before = await readFile(log);
    await expect(FileOutbox.open(log)).rejects.toThrow(/record at offset \d+ has unknown kind 9/);
    expect((await readFile(log)).equals(before)).toBe(true); // nothing truncated
    await expect(FileOutbox.open(log)).rejects.toThrow(WeirOutboxError); // and the lock was released

    const other = join(dir, "notes.txt");
    await writeFile(other, "some file that is not an outbox\n");
    await expect(FileOutbox.open(other)).rejects.toThrow(/is not a Weir outbox file/);
    expect(await readFile(other, "utf8")).toBe("some file that is not an outbox\n");

    // A crash while the log was being created leaves an empty file or a prefix of the magic: a new, empty outbox.
    for (const start of ["", "WEIR"]) {
      const fresh = join(dir, `fresh-${start.length}.log`);
      await writeFile(fresh, start);
      const o2 = await FileOutbox.open(fresh);
      expect(await o2.load()).toEqual([]);
      await o2.append(range(0, 1));
      await o2.close();
      expect(parseLog(await readFile(fresh)).map((r) => r.ids)).toEqual([["e0"]]);
    }
  });

  test("compaction rewrites exactly the live set once removals pass the threshold and outnumber it", async () => {
    let o = await openFile({ compactAfterRemoved: 100 });
    for (let b = 0; b < 3; b++) await o.append(range(b * 100, b * 100 + 100));
    const full = (await stat(log)).size;
    await o.remove(ids(range(0, 90))); // 90 removed: under the threshold
    expect((await stat(log)).size).toBeGreaterThan(full);
    const live = [...range(90, 100), ...range(100, 300).filter((_, k) => k % 5 === 0)];
    await o.remove(ids(range(100, 300).filter((_, k) => k % 5 !== 0))); // 250 removed, 50 live
    // Compaction runs after the remove resolved (it is durable without it), before the next call.
    expectEntries(await o.load(), live);
    const compacted = (await stat(log)).size;
    expect(compacted).toBe(8 + live.reduce((n, e) => n + 9 + 2 + e.id.length + e.bytes.length, 0));
    expect(o.fileBytes).toBe(compacted);
    expectEntries(await o.load(), live);
    expect(parseLog(await readFile(log)).every((r) => r.kind === 1)).toBe(true);

    // The compacted log keeps working: the index points into the new file.
    await o.append(range(300, 310));
    await o.remove(["e90", "e300"]);
    const expected = [...live.filter((e) => e.id !== "e90"), ...range(301, 310)];
    expectEntries(await o.load(), expected);
    ({ outbox: o } = await reopen(o, { compactAfterRemoved: 100 }));
    expectEntries(await o.load(), expected);
  });

  test("no compaction while the live set is as large as the removed one; a mostly dead log is compacted on open", async () => {
    let o = await openFile({ compactAfterRemoved: 10 });
    await o.append(range(0, 100));
    await o.remove(ids(range(0, 40)));
    const size = (await stat(log)).size;
    await o.close();
    o = await openFile({ compactAfterRemoved: 100_000 });
    await o.remove(ids(range(40, 90)));
    expect((await stat(log)).size).toBeGreaterThan(size);
    const { outbox } = await reopen(o, { compactAfterRemoved: 10 });
    expect((await stat(log)).size).toBe(8 + range(90, 100).reduce((n, e) => n + 9 + 2 + e.id.length + e.bytes.length, 0));
    expectEntries(await outbox.load(), range(90, 100));
  });

  test("a leftover path.tmp (compaction that never reached its rename) is deleted and the log is kept", async () => {
    const o = await openFile();
    await o.append(range(0, 3));
    await o.close();
    await writeFile(`${log}.tmp`, "half a compaction");
    const o2 = await openFile();
    expectEntries(await o2.load(), range(0, 3));
    await expect(stat(`${log}.tmp`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("a failed write is taken back (the log stays usable); a failed fdatasync makes the outbox refuse further work", async () => {
    const o = await openFile();
    await o.append(range(0, 3));
    const size = (await stat(log)).size;
    const handle = (o as unknown as { handle: FileHandle }).handle;
    const write = handle.write.bind(handle) as (b: Uint8Array, o: number, l: number, p: number) => Promise<{ bytesWritten: number }>;
    Object.assign(handle, {
      write: async (b: Uint8Array, off: number, len: number, pos: number) => {
        await write(b, off, Math.floor(len / 2), pos); // half of it reaches the file, then the disk is full
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      },
    });
    await expect(o.append(range(3, 6))).rejects.toThrow(/write failed: ENOSPC/);
    delete (handle as unknown as Record<string, unknown>).write;
    expect((await stat(log)).size).toBe(size);
    await o.append(range(6, 8));

    Object.assign(handle, { datasync: async () => Promise.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })) });
    await expect(o.append(range(8, 9))).rejects.toThrow(/fdatasync failed: EIO/);
    await expect(o.remove(["e0"])).rejects.toThrow(/unusable after an I\/O error: EIO/);
    await expect(o.load()).rejects.toThrow(/unusable after an I\/O error/);
    delete (handle as unknown as Record<string, unknown>).datasync;
    // What reached the file is still a valid log: the entry whose fdatasync failed may be there.
    const { entries } = await reopen(o);
    expectEntries(entries, [...range(0, 3), ...range(6, 9)]);
  });

  describe("the lock file (its cases: file-lock.test.ts)", () => {
    test("holds our pid while open and goes on close; a second open in this process fails", async () => {
      const o = await openFile();
      expect((await readFile(`${log}.lock`, "utf8")).trim()).toBe(String(process.pid));
      await expect(FileOutbox.open(log)).rejects.toThrow(/already open in this process/);
      await o.close();
      await expect(stat(`${log}.lock`)).rejects.toMatchObject({ code: "ENOENT" });
      await (await openFile()).close();
    });

    test("a lock held by another live process: open fails before it touches the log", async () => {
      const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
      try {
        await writeFile(`${log}.lock`, `${holder.pid}\n`);
        await writeFile(`${log}.tmp`, "another writer's compaction");
        await expect(FileOutbox.open(log)).rejects.toThrow(new RegExp(`outbox .* in use by pid ${holder.pid}`));
        await expect(stat(log)).rejects.toMatchObject({ code: "ENOENT" });
        expect(await readFile(`${log}.tmp`, "utf8")).toBe("another writer's compaction");
      } finally {
        holder.kill("SIGKILL");
      }
    });
  });

  describe("a writer killed with SIGKILL mid-append", () => {
    // Kill points: after at least `after` printed batches, then a varying delay so the kill lands
    // at different points of the write/fdatasync (and, in churn, of a compaction).
    const cases: Array<[mode: "append" | "churn", sync: "always" | "none", after: number, delayMs: number]> = [
      ["append", "none", 20, 0],
      ["append", "always", 5, 7],
      ["churn", "none", 20, 3],
      ["churn", "always", 5, 11],
    ];
    test.each(cases)(
      "%s, sync %s: every resolved append is there, in order, undamaged",
      async (mode, sync, after, delayMs) => {
        const writer = join(import.meta.dirname, "fixtures", "outbox-writer.ts");
        const child = spawn(process.execPath, ["--import", "tsx", writer, log, mode, sync], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        const exited = new Promise<NodeJS.Signals | null>((res) => child.on("exit", (_code, signal) => res(signal)));
        await new Promise<void>((res, rej) => {
          child.stdout.on("data", (d: Buffer) => {
            out += d.toString();
            if (out.split("\n").length > after + 1) res();
          });
          child.on("exit", () => rej(new Error(`writer exited early: ${err}`)));
        });
        await new Promise((r) => setTimeout(r, delayMs));
        child.kill("SIGKILL");
        expect(await exited).toBe("SIGKILL");
        const printed = out.split("\n").filter((l) => l !== "");
        const last = Number(printed.at(-1));
        expect(printed.map(Number)).toEqual(Array.from({ length: last + 1 }, (_, b) => b));

        const o = await openFile(); // also takes over the dead writer's lock
        const loaded = await o.load();
        const n = loaded.length;
        // No entry damaged: each is exactly the entry the writer made with that id.
        for (const e of loaded) expectEntries([e], [entryAt(Number(e.id.slice(1)))]);
        const nums = loaded.map((e) => Number(e.id.slice(1)));
        // In order, contiguous (batches are removed whole, oldest first).
        expect(nums).toEqual(Array.from({ length: n }, (_, k) => nums[0]! + k));
        const first = nums[0]!;
        const endOf = (b: number) => (b + 1) * CRASH_BATCH;
        if (mode === "append") {
          // Batches 0..last resolved; batch last+1 may be there in part (a prefix) or whole.
          expect(first).toBe(0);
          expect(n).toBeGreaterThanOrEqual(endOf(last));
          expect(n).toBeLessThanOrEqual(endOf(last + 1));
        } else {
          // After "last": batches last-1 and last live; then append last+1 (any prefix), then remove last-1 (all or nothing).
          const states = [
            ...Array.from({ length: CRASH_BATCH + 1 }, (_, k) => [(last - 1) * CRASH_BATCH, endOf(last) + k]),
            [last * CRASH_BATCH, endOf(last + 1)],
          ];
          expect(states).toContainEqual([first, first + n]);
        }
        // The recovered log takes new writes.
        await o.append([entryAt(1_000_000)]);
        const { entries } = await reopen(o);
        expect(entries.at(-1)!.id).toBe("e1000000");
        expect(entries).toHaveLength(n + 1);
      },
      60_000,
    );
  });
});

/** Start offset of each record of a log. */
function parseLogOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let p = 8; p < buf.length; p += 9 + buf.readUInt32LE(p + 1)) out.push(p);
  return out;
}
