/**
 * The FileOutbox's log format: records encoded and decoded, their CRC, and the replay of a log
 * image into its live entries with the torn tail cut off. Pure bytes (Uint8Array, no Node module
 * and no I/O), so it is tested on its own and bundles anywhere; file-outbox.ts does the file work.
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
 * Replaying the records in order gives the live entries in append order. The first record that
 * is incomplete (short header, or its body runs past the end of the image) or fails its CRC ends
 * the log: it and everything after it are the torn tail of a write that never completed (a crash
 * mid-write, or unsynced pages lost). A record whose CRC is right but whose kind is unknown, or
 * whose body is malformed, was written that way: replay throws WeirOutboxError instead of
 * dropping it (and everything after it). So does an image that does not start with the magic, so
 * pointing the outbox at another file never truncates it.
 */
import { WeirOutboxError } from "./outbox.js";

export const LOG_MAGIC = new Uint8Array([0x57, 0x45, 0x49, 0x52, 0x4f, 0x42, 0x58, 0x01]); // "WEIROBX" v1
export const RECORD_HEADER_BYTES = 9;
/** Ids carry a u16 length prefix. */
export const MAX_ID_BYTES = 0xffff;
const ADD = 1;
const REMOVE = 2;

export type LogRecord = { kind: "add"; id: string; bytes: Uint8Array } | { kind: "remove"; ids: readonly string[] };

/** Where a record lies in the log: its offset and size, and how far into it the envelope starts (Add; `size` for Remove). */
export type RecordLoc = { at: number; size: number; skip: number };

/** What replaying a log image gives. */
export type LogReplay = {
  /** Live entries' Add records, in append order. */
  live: Map<string, RecordLoc>;
  /** Add records made dead by a Remove. */
  removed: number;
  /** Where the valid records end: the rest of the image is the torn tail. */
  validEnd: number;
  /** The image is empty or a prefix of the magic (a crash while the file was being created): write the magic first. */
  needsMagic: boolean;
};

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const CRC_TABLE = makeCrcTable();

/** Throws WeirOutboxError if `id` is too long for its length prefix. */
export function checkIdFits(id: string): void {
  // UTF-8 is at most 3 bytes per UTF-16 unit: only long ids need encoding to check.
  if (id.length * 3 > MAX_ID_BYTES && utf8.encode(id).length > MAX_ID_BYTES) throw idTooLong();
}

function idTooLong(): WeirOutboxError {
  return new WeirOutboxError(`event id of more than ${MAX_ID_BYTES} UTF-8 bytes`);
}

/** The records back to back in one buffer, and where each lies in it. Throws WeirOutboxError for an id too long. */
export function encodeRecords(records: readonly LogRecord[]): { bytes: Uint8Array; locs: RecordLoc[] } {
  const encoded = records.map((r) => {
    const ids = (r.kind === "add" ? [r.id] : r.ids).map((id) => {
      const bytes = utf8.encode(id);
      if (bytes.length > MAX_ID_BYTES) throw idTooLong();
      return bytes;
    });
    const envelope = r.kind === "add" ? r.bytes : new Uint8Array(0);
    return { kind: r.kind === "add" ? ADD : REMOVE, ids, envelope };
  });
  let total = 0;
  for (const r of encoded) total += RECORD_HEADER_BYTES + r.ids.reduce((n, id) => n + 2 + id.length, 0) + r.envelope.length;
  const bytes = new Uint8Array(total);
  const view = viewOf(bytes);
  const locs: RecordLoc[] = [];
  let p = 0;
  for (const r of encoded) {
    const at = p;
    p += RECORD_HEADER_BYTES;
    for (const id of r.ids) {
      view.setUint16(p, id.length, true);
      bytes.set(id, p + 2);
      p += 2 + id.length;
    }
    const skip = p - at;
    bytes.set(r.envelope, p);
    p += r.envelope.length;
    bytes[at] = r.kind;
    view.setUint32(at + 1, p - at - RECORD_HEADER_BYTES, true);
    view.setUint32(at + 5, recordCrc(bytes, at, p), true);
    locs.push({ at, size: p - at, skip }); // a Remove has no envelope: skip is its size
  }
  return { bytes, locs };
}

/**
 * The record at offset `at` of a log image (an Add's envelope is a view into the image), or
 * undefined when it is torn: incomplete or failing its CRC. `source` names the log in errors.
 */
export function decodeRecord(image: Uint8Array, at: number, source: string): { record: LogRecord; loc: RecordLoc } | undefined {
  const rec = readRecord(image, viewOf(image), at, source);
  if (rec === undefined) return undefined;
  const { loc } = rec;
  if (rec.kind === REMOVE) return { record: { kind: "remove", ids: rec.ids }, loc };
  return { record: { kind: "add", id: rec.id, bytes: image.subarray(loc.at + loc.skip, loc.at + loc.size) }, loc };
}

/** Replays a log image (a whole file) in record order. `source` names the log in errors. */
export function replayLog(image: Uint8Array, source: string): LogReplay {
  const live = new Map<string, RecordLoc>();
  const magic = LOG_MAGIC.length;
  if (image.length < magic) {
    // Empty, or a crash while the file was being created: only a prefix of the magic is ours.
    if (!image.every((b, i) => b === LOG_MAGIC[i])) throw new WeirOutboxError(`${source} is not a Weir outbox file`);
    return { live, removed: 0, validEnd: 0, needsMagic: true };
  }
  for (let i = 0; i < magic - 1; i++) if (image[i] !== LOG_MAGIC[i]) throw new WeirOutboxError(`${source} is not a Weir outbox file`);
  if (image[magic - 1] !== LOG_MAGIC[magic - 1]) throw new WeirOutboxError(`${source}: unsupported outbox format version ${image[magic - 1]}`);

  const view = viewOf(image);
  let removed = 0;
  let p = magic;
  for (let rec = readRecord(image, view, p, source); rec !== undefined; rec = readRecord(image, view, p, source)) {
    if (rec.kind === ADD) live.set(rec.id, rec.loc);
    else for (const id of rec.ids) if (live.delete(id)) removed++;
    p += rec.loc.size;
  }
  return { live, removed, validEnd: p, needsMagic: false };
}

type ReadRecord = { kind: typeof ADD; id: string; loc: RecordLoc } | { kind: typeof REMOVE; ids: string[]; loc: RecordLoc };

/** decodeRecord without the envelope view: replay reads every record of a log, and only needs the ids. */
function readRecord(image: Uint8Array, view: DataView, at: number, source: string): ReadRecord | undefined {
  if (image.length - at < RECORD_HEADER_BYTES) return undefined;
  const size = RECORD_HEADER_BYTES + view.getUint32(at + 1, true);
  if (size > image.length - at) return undefined;
  const end = at + size;
  if (view.getUint32(at + 5, true) !== recordCrc(image, at, end)) return undefined;
  const kind = image[at]!;
  if (kind === ADD) {
    const { id, next } = readId(image, view, at + RECORD_HEADER_BYTES, at, end, source);
    return { kind, id, loc: { at, size, skip: next - at } };
  }
  if (kind === REMOVE) {
    const ids: string[] = [];
    for (let q = at + RECORD_HEADER_BYTES; q < end; ) {
      const { id, next } = readId(image, view, q, at, end, source);
      ids.push(id);
      q = next;
    }
    return { kind, ids, loc: { at, size, skip: size } };
  }
  throw corrupt(source, at, `has unknown kind ${kind} (written by a newer Weir?)`);
}

/** The id at `q` of the record [at, end), and where the next field starts. */
function readId(image: Uint8Array, view: DataView, q: number, at: number, end: number, source: string): { id: string; next: number } {
  if (q + 2 > end) throw corrupt(source, at, "has a truncated id");
  const next = q + 2 + view.getUint16(q, true);
  if (next > end) throw corrupt(source, at, "has an id running past its end");
  try {
    return { id: strictUtf8.decode(image.subarray(q + 2, next)), next };
  } catch {
    throw corrupt(source, at, "has an id that is not UTF-8");
  }
}

function corrupt(source: string, at: number, what: string): WeirOutboxError {
  return new WeirOutboxError(`${source}: record at offset ${at} ${what}; the outbox is damaged (move the file away to start empty)`);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
/** CRC-32 (IEEE) of the record in [at, end): its kind and length bytes, then its body (the crc field itself is skipped). */
function recordCrc(buf: Uint8Array, at: number, end: number): number {
  return ~crc32(crc32(~0, buf, at, at + 5), buf, at + RECORD_HEADER_BYTES, end) >>> 0;
}

function crc32(crc: number, buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) crc = CRC_TABLE[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
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
