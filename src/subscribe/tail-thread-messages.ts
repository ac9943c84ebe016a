/**
 * What the gateway's main thread and its subscription reader thread (decision 0025) say to each
 * other. Records cross as one batch per fetched partition batch, in columns: the values packed in
 * one transferred buffer (a kafkajs value is a view into the whole fetch response, which
 * structured cloning would copy whole for every record), keys, times and headers beside it.
 */
import type { TailRecord } from "./ports.js";

export type TailThreadRequest =
  /** Open a tail of `topic` (from `from` per partition, else from its end) under `id`. */
  | { readonly kind: "open"; readonly id: number; readonly topic: string; readonly from?: readonly number[] }
  | { readonly kind: "close"; readonly id: number }
  /** The main thread has dispatched `id`'s batch: one more may come (the thread's bound, below). */
  | { readonly kind: "taken"; readonly id: number };

export type PackedBatch = {
  readonly partition: number;
  /** The partition's next offset after the batch. */
  readonly next: number;
  readonly readAtMs: number;
  readonly offsets: readonly number[];
  readonly keys: readonly string[];
  readonly timestamps: readonly number[];
  readonly headers: ReadonlyArray<Readonly<Record<string, string>>>;
  /** Every value, one after another; record i ends at valueEnds[i]. */
  readonly values: ArrayBuffer;
  readonly valueEnds: Uint32Array;
};

export type TailThreadEvent =
  | { readonly kind: "opened"; readonly id: number; readonly next: readonly number[] }
  | { readonly kind: "failed"; readonly id: number; readonly message: string }
  | ({ readonly kind: "records"; readonly id: number } & PackedBatch);

/**
 * Batches a tail may have handed over that the main thread has not dispatched yet. Past it the
 * thread's consumer waits (and so stops fetching): a busy main thread slows the tail rather than
 * filling memory.
 */
export const MAX_BATCHES_IN_FLIGHT = 8;

export function packBatch(partition: number, records: readonly TailRecord[], next: number, readAtMs: number): PackedBatch {
  let size = 0;
  for (const r of records) size += r.value.byteLength;
  const values = new Uint8Array(size);
  const valueEnds = new Uint32Array(records.length);
  let at = 0;
  records.forEach((r, i) => {
    values.set(r.value, at);
    at += r.value.byteLength;
    valueEnds[i] = at;
  });
  return {
    partition,
    next,
    readAtMs,
    offsets: records.map((r) => r.offset),
    keys: records.map((r) => r.key),
    timestamps: records.map((r) => r.timestampMs),
    headers: records.map((r) => r.headers),
    values: values.buffer,
    valueEnds,
  };
}

export function unpackBatch(b: PackedBatch): TailRecord[] {
  const values = new Uint8Array(b.values);
  const records = new Array<TailRecord>(b.offsets.length);
  let start = 0;
  for (let i = 0; i < records.length; i++) {
    const end = b.valueEnds[i]!;
    records[i] = {
      partition: b.partition,
      offset: b.offsets[i]!,
      key: b.keys[i]!,
      value: values.subarray(start, end),
      timestampMs: b.timestamps[i]!,
      headers: b.headers[i]!,
    };
    start = end;
  }
  return records;
}
