/**
 * EventTimeGate: holds records per key until a watermark passes them, then releases them in
 * (event time, arrival) order, so an operator downstream sees each key's records in event-time
 * order although they arrived out of order (the buffering Flink's CEP and interval joins do).
 *
 * - `offer(key, value, tsMs)` buffers a record. A record older than what the gate has already
 *   released for its key cannot be put in order any more: it is refused as late (counted) and
 *   the caller decides what to do with it.
 * - `release(boundMs, inclusive)` returns every buffered record (of any key) with time ≤ bound
 *   (< bound when not inclusive), ordered by event time, then arrival.
 * - Bounded: at most `maxPerKey` records wait per key; beyond that the oldest is released at
 *   once (returned by `offer`, counted in `releasedEarly`), which moves the key's released time on.
 *
 * State is plain JSON in one KeyValueStore: an entry per key with waiting records ("key:<key>")
 * and one "meta" entry (arrival counter, earliest waiting time per key, counters).
 */
import type { KeyValueStore } from "../types.js";

/** One buffered record; `seq` is its arrival number (the tie-break between equal times). */
export type GateRecord<T> = {
  readonly key: string;
  readonly value: T;
  readonly timestampMs: number;
  readonly seq: number;
};

type Waiting<T> = { readonly t: number; readonly seq: number; readonly value: T };

/** A key's entry: its waiting records sorted by (t, seq), and the latest time released for it. */
export type GateKeyState<T> = {
  readonly waiting: ReadonlyArray<Waiting<T>>;
  readonly releasedToMs: number | null;
};

export type GateMeta = {
  /** Arrivals so far (the next record's seq). */
  readonly seq: number;
  /** Earliest waiting time per key that has waiting records. */
  readonly heads: Readonly<Record<string, number>>;
  readonly releasedEarly: number;
  readonly lateCount: number;
};

export type GateEntry<T> = GateKeyState<T> | GateMeta;

export type OfferResult<T> =
  | { readonly accepted: true; readonly early: ReadonlyArray<GateRecord<T>> }
  | { readonly accepted: false; readonly releasedToMs: number };

export type EventTimeGateOptions = {
  /** Records waiting per key before the oldest is released early (default 10_000). */
  readonly maxPerKey?: number;
};

const META = "meta";
const keyOf = (key: string): string => `key:${key}`;
const NO_RECORDS: ReadonlyArray<never> = Object.freeze([]);

function byTimeThenArrival(a: { timestampMs: number; seq: number }, b: { timestampMs: number; seq: number }): number {
  return a.timestampMs - b.timestampMs || a.seq - b.seq;
}

export class EventTimeGate<T> {
  private readonly maxPerKey: number;

  constructor(
    private readonly store: KeyValueStore<GateEntry<T>>,
    options: EventTimeGateOptions = {},
  ) {
    this.maxPerKey = options.maxPerKey ?? 10_000;
    if (!Number.isInteger(this.maxPerKey) || this.maxPerKey < 1) throw new RangeError("maxPerKey must be an integer >= 1");
  }

  offer(key: string, value: T, tsMs: number): OfferResult<T> {
    if (!Number.isFinite(tsMs)) throw new RangeError("event time must be a finite number");
    const meta = this.meta();
    const state = this.keyState(key);
    if (state.releasedToMs !== null && tsMs < state.releasedToMs) {
      this.store.put(META, { ...meta, lateCount: meta.lateCount + 1 });
      return { accepted: false, releasedToMs: state.releasedToMs };
    }
    const item: Waiting<T> = { t: tsMs, seq: meta.seq, value };
    const waiting = [...state.waiting];
    // Usually the newest: insert from the end.
    let at = waiting.length;
    while (at > 0 && waiting[at - 1]!.t > tsMs) at--;
    waiting.splice(at, 0, item);
    let releasedToMs = state.releasedToMs;
    const early: Array<GateRecord<T>> = [];
    while (waiting.length > this.maxPerKey) {
      const oldest = waiting.shift()!;
      early.push({ key, value: oldest.value, timestampMs: oldest.t, seq: oldest.seq });
      releasedToMs = releasedToMs === null ? oldest.t : Math.max(releasedToMs, oldest.t);
    }
    this.store.put(keyOf(key), { waiting, releasedToMs });
    const heads = { ...meta.heads, [key]: waiting[0]!.t };
    this.store.put(META, { ...meta, seq: meta.seq + 1, heads, releasedEarly: meta.releasedEarly + early.length });
    return { accepted: true, early };
  }

  /** Releases every waiting record with time ≤ boundMs (< boundMs unless inclusive), in (time, arrival) order. */
  release(boundMs: number, inclusive = true): ReadonlyArray<GateRecord<T>> {
    const meta = this.store.get(META) as GateMeta | undefined;
    if (meta === undefined) return NO_RECORDS;
    let heads: Record<string, number> | undefined;
    const out: Array<GateRecord<T>> = [];
    for (const key in meta.heads) {
      const head = meta.heads[key]!;
      if (inclusive ? head > boundMs : head >= boundMs) continue;
      const state = this.keyState(key);
      let n = 0;
      while (n < state.waiting.length && (inclusive ? state.waiting[n]!.t <= boundMs : state.waiting[n]!.t < boundMs)) n++;
      for (let i = 0; i < n; i++) {
        const w = state.waiting[i]!;
        out.push({ key, value: w.value, timestampMs: w.t, seq: w.seq });
      }
      const last = state.waiting[n - 1]!.t;
      const waiting = state.waiting.slice(n);
      this.store.put(keyOf(key), { waiting, releasedToMs: state.releasedToMs === null ? last : Math.max(state.releasedToMs, last) });
      heads ??= { ...meta.heads };
      if (waiting.length > 0) heads[key] = waiting[0]!.t;
      else delete heads[key];
    }
    if (heads === undefined) return NO_RECORDS;
    this.store.put(META, { ...meta, heads });
    return out.sort(byTimeThenArrival);
  }

  /** The records waiting for a key, in release order. */
  waiting(key: string): Array<GateRecord<T>> {
    return this.keyState(key).waiting.map((w) => ({ key, value: w.value, timestampMs: w.t, seq: w.seq }));
  }

  /** The latest event time released for a key (undefined: none yet). */
  releasedToMs(key: string): number | undefined {
    return this.keyState(key).releasedToMs ?? undefined;
  }

  /** The earliest waiting time over all keys (undefined: nothing waits). */
  earliestWaitingMs(): number | undefined {
    const heads = Object.values(this.meta().heads);
    return heads.length === 0 ? undefined : Math.min(...heads);
  }

  stats(): { readonly waitingKeys: number; readonly releasedEarly: number; readonly lateCount: number } {
    const meta = this.meta();
    return { waitingKeys: Object.keys(meta.heads).length, releasedEarly: meta.releasedEarly, lateCount: meta.lateCount };
  }

  private meta(): GateMeta {
    return (this.store.get(META) as GateMeta | undefined) ?? { seq: 0, heads: {}, releasedEarly: 0, lateCount: 0 };
  }

  private keyState(key: string): GateKeyState<T> {
    return (this.store.get(keyOf(key)) as GateKeyState<T> | undefined) ?? { waiting: [], releasedToMs: null };
  }
}
