/**
 * The file outbox's log format on its own (src/client/outbox-log.ts), on byte images with no file:
 * records round-trip, the CRC is zlib's and catches every damaged byte, a log cut at any byte
 * of its last record replays to the records before it, replay gives the live entries in append
 * order, records written malformed are errors, and the module bundles for browsers.
 */
import { crc32 } from "node:zlib";
import { describe, expect, test } from "vitest";
import { bundleModule } from "../../src/build/bundle.js";
import { WeirOutboxError } from "../../src/client/outbox.js";
import { checkIdFits, decodeRecord, encodeRecords, LOG_MAGIC, MAX_ID_BYTES, replayLog, type LogRecord } from "../../src/client/outbox-log.js";

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, k) => (seed * 31 + k * 7) & 0xff);
const add = (id: string, bytes = bytesOf(10 + id.length, id.length)): LogRecord => ({ kind: "add", id, bytes });
const remove = (...ids: string[]): LogRecord => ({ kind: "remove", ids });

/** The magic, then the records: a whole log image. */
function image(records: readonly LogRecord[]): Uint8Array {
  const { bytes } = encodeRecords(records);
  return concat(LOG_MAGIC, bytes);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

/** A record with a correct CRC around any body (zlib's crc32 of kind, length and body). */
function rawRecord(kind: number, body: Uint8Array): Uint8Array {
  const head = new Uint8Array(5);
  head[0] = kind;
  new DataView(head.buffer).setUint32(1, body.length, true);
  const crc = new Uint8Array(4);
  new DataView(crc.buffer).setUint32(0, crc32(body, crc32(head)), true);
  return concat(head, crc, body);
}

/** A record with its envelope as base64 (a deep compare of large byte arrays is slow). */
const comparable = (r: LogRecord) => (r.kind === "add" ? { ...r, bytes: Buffer.from(r.bytes).toString("base64") } : r);

/** Live ids and their envelopes, read through the locations replay gives. */
function liveEntries(img: Uint8Array): Array<[string, number[]]> {
  return [...replayLog(img, "test.log").live].map(([id, loc]) => [id, Array.from(img.subarray(loc.at + loc.skip, loc.at + loc.size))]);
}

const sample: LogRecord[] = [add("e0"), add("é-ünïcode-🙂", new Uint8Array(0)), remove("e0", "never-added"), add("big", bytesOf(70_000, 3)), remove()];

describe("encode and decode", () => {
  test("records round-trip, each at the place encodeRecords reports", () => {
    const { bytes, locs } = encodeRecords(sample);
    expect(locs.map((l) => l.at)).toEqual([0, ...locs.slice(0, -1).map((l) => l.at + l.size)]);
    expect(locs.at(-1)!.at + locs.at(-1)!.size).toBe(bytes.length);
    sample.forEach((record, k) => {
      const decoded = decodeRecord(bytes, locs[k]!.at, "test.log");
      expect(decoded?.loc).toEqual(locs[k]);
      expect(comparable(decoded!.record)).toEqual(comparable(record));
    });
  });

  test("the header is kind, length and zlib's CRC-32 of kind, length and body", () => {
    const { bytes, locs } = encodeRecords([add("e1", bytesOf(300, 1)), remove("e1", "e2")]);
    const view = new DataView(bytes.buffer);
    for (const [k, kind, idBytes] of [
      [0, 1, 2 + 2],
      [1, 2, 2 * (2 + 2)],
    ] as const) {
      const { at, size, skip } = locs[k]!;
      expect(bytes[at]).toBe(kind);
      expect(view.getUint32(at + 1, true)).toBe(size - 9);
      expect(view.getUint32(at + 5, true)).toBe(crc32(bytes.subarray(at + 9, at + size), crc32(bytes.subarray(at, at + 5))));
      expect(skip).toBe(k === 0 ? 9 + idBytes : size);
    }
  });

  test("a change of any byte of a record fails its CRC: the record reads as torn", () => {
    const { bytes } = encodeRecords([add("e7", bytesOf(40, 7))]);
    for (let at = 0; at < bytes.length; at++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const damaged = bytes.slice();
        damaged[at]! ^= flip;
        expect(decodeRecord(damaged, 0, "test.log"), `byte ${at} ^ ${flip}`).toBeUndefined();
      }
    }
  });

  test("ids up to 65,535 UTF-8 bytes fit their length prefix; longer ones are refused, not cut", () => {
    const threeByte = "€"; // 3 UTF-8 bytes, 1 UTF-16 unit
    for (const id of ["x".repeat(MAX_ID_BYTES), threeByte.repeat(MAX_ID_BYTES / 3)]) {
      expect(() => checkIdFits(id)).not.toThrow();
      expect(decodeRecord(encodeRecords([add(id)]).bytes, 0, "test.log")?.record).toMatchObject({ id });
    }
    for (const id of ["x".repeat(MAX_ID_BYTES + 1), threeByte.repeat(MAX_ID_BYTES / 3) + "x"]) {
      expect(() => checkIdFits(id)).toThrow(/event id of more than 65535 UTF-8 bytes/);
      expect(() => encodeRecords([add(id)])).toThrow(WeirOutboxError);
      expect(() => encodeRecords([remove("a", id)])).toThrow(WeirOutboxError);
    }
  });
});

describe("replay", () => {
  test("gives the live entries in append order: a removed id that comes back goes last", () => {
    const ids = ["e0", "e1", "e2", "e3", "e4"];
    const img = image([...ids.map((id) => add(id)), remove("e1", "e3", "missing"), add("e1", bytesOf(5, 99)), add("e5"), remove("e4")]);
    const replay = replayLog(img, "test.log");
    expect([...replay.live.keys()]).toEqual(["e0", "e2", "e1", "e5"]);
    expect(replay.removed).toBe(3); // e1, e3, e4: "missing" was never live
    expect(replay.validEnd).toBe(img.length);
    expect(replay.needsMagic).toBe(false);
    expect(liveEntries(img)).toEqual([
      ["e0", Array.from(bytesOf(12, 2))],
      ["e2", Array.from(bytesOf(12, 2))],
      ["e1", Array.from(bytesOf(5, 99))],
      ["e5", Array.from(bytesOf(12, 2))],
    ]);
  });

  test("a log cut at every byte of its last record replays to the records before it", () => {
    const records = [add("e0"), remove("e0"), add("e1"), add("e2", bytesOf(50, 2))];
    const whole = image(records);
    const lastAt = LOG_MAGIC.length + encodeRecords(records.slice(0, -1)).bytes.length;
    for (let cut = lastAt; cut < whole.length; cut++) {
      const replay = replayLog(whole.subarray(0, cut), "test.log");
      expect([...replay.live.keys()], `cut at ${cut}`).toEqual(["e1"]);
      expect(replay.validEnd).toBe(lastAt);
      expect(replay.removed).toBe(1);
    }
    expect([...replayLog(whole, "test.log").live.keys()]).toEqual(["e1", "e2"]);
  });

  test("the first record that fails its CRC ends the log, whatever follows it", () => {
    const records = [add("e0"), add("e1"), add("e2")];
    const img = image(records);
    const e1At = LOG_MAGIC.length + encodeRecords(records.slice(0, 1)).bytes.length;
    img[e1At + 12]! ^= 0x40;
    const replay = replayLog(img, "test.log");
    expect([...replay.live.keys()]).toEqual(["e0"]);
    expect(replay.validEnd).toBe(e1At);
  });

  test("reads an image that is a view into a larger buffer (as a pooled Buffer is)", () => {
    const img = image(sample);
    const backing = new Uint8Array(img.length + 13);
    backing.set(img, 5);
    const view = backing.subarray(5, 5 + img.length);
    expect(liveEntries(view)).toEqual(liveEntries(img));
    expect(replayLog(view, "test.log").validEnd).toBe(img.length);
  });

  test("an empty image or a prefix of the magic is a log still being created; anything else not ours is refused", () => {
    for (let n = 0; n < LOG_MAGIC.length; n++) {
      expect(replayLog(LOG_MAGIC.subarray(0, n), "new.log")).toEqual({ live: new Map(), removed: 0, validEnd: 0, needsMagic: true });
    }
    expect(replayLog(LOG_MAGIC, "empty.log")).toEqual({ live: new Map(), removed: 0, validEnd: LOG_MAGIC.length, needsMagic: false });
    expect(() => replayLog(new TextEncoder().encode("WEIR"), "x")).not.toThrow();
    expect(() => replayLog(new TextEncoder().encode("notes\n"), "notes.txt")).toThrow(/notes.txt is not a Weir outbox file/);
    expect(() => replayLog(new TextEncoder().encode("some file that is not an outbox\n"), "notes.txt")).toThrow(WeirOutboxError);
    const v2 = LOG_MAGIC.slice();
    v2[7] = 2;
    expect(() => replayLog(v2, "v2.log")).toThrow(/v2.log: unsupported outbox format version 2/);
  });

  test("a record with a good CRC but written malformed is an error naming its offset, not a torn tail", () => {
    const at = LOG_MAGIC.length + encodeRecords([add("e0")]).bytes.length;
    const cases: Array<[body: Uint8Array, kind: number, error: RegExp]> = [
      [new TextEncoder().encode("future"), 9, /has unknown kind 9 \(written by a newer Weir\?\)/],
      [new Uint8Array([2, 0, 0x61, 0x62, 1]), 2, /has a truncated id/],
      [new Uint8Array([9, 0, 0x61]), 2, /has an id running past its end/],
      [new Uint8Array([2, 0, 0xc3, 0x28]), 1, /has an id that is not UTF-8/],
    ];
    for (const [body, kind, error] of cases) {
      const img = concat(image([add("e0")]), rawRecord(kind, body), image([add("e1")]).subarray(LOG_MAGIC.length));
      expect(() => replayLog(img, "bad.log")).toThrow(new RegExp(`bad.log: record at offset ${at} ${error.source}; the outbox is damaged`));
    }
  });
});

test("the log format bundles for browsers: no Node builtin in it", async () => {
  const code = await bundleModule("src/client/outbox-log.ts", { platform: "browser", onWarning: (w) => expect.fail(w) });
  expect(code).toContain("replayLog");
});
