/**
 * VersionedTable: a key-value table that keeps, per key, the value's versions by the event time
 * they became valid, so a stream record can be joined with the value that was current at ITS
 * event time instead of the latest (Flink's temporal table join, Kafka Streams'
 * VersionedKeyValueStore). Pure, over a KeyValueStore of plain JSON.
 *
 * Semantics:
 * - `put(key, value, validFromMs)`: versions may arrive in any order; a version is valid from its
 *   time until the next version's. A second put at the same time replaces the first.
 * - `asOf(key, tsMs)`: the value of the latest version with validFrom ≤ ts, or undefined.
 * - Bounded history, applied to a key when it is written (or `expire(key)`): with the watermark W
 *   (given by the owner) versions valid from before W − historyMs are dropped, except the newest
 *   of them (it is still the answer at W − historyMs); and at most maxVersions are kept (the oldest
 *   go first). Dropping only ever removes the oldest versions, so the versions kept are contiguous:
 *   `asOf` is exact for any time at or after the oldest version kept and undefined before it. A put
 *   that the bound would drop at once is refused, and so is one older than the oldest version kept
 *   once a key has dropped versions (it would sit before a gap and answer for times it no longer knows).
 *
 * Layout: like Kafka Streams' versioned store, versions live in segments of `segmentMs` of event
 * time, one store entry per (key, segment) ("<key>\u0000<segment>"), with one small entry per key
 * listing its segments ("<key>"). A put rewrites one segment, not the key's whole history, so what
 * the runtime writes to the changelog grows with the versions added, not the versions kept. Dropped
 * versions leave the oldest segment only when all of it goes (until then `firstMs` hides them), so
 * expiry does not rewrite a segment per put either. Keys must not contain "\u0000".
 */
import type { KeyValueStore } from "../types.js";

/** A key's entry: its segments (ids ascending) with their stored sizes, versions kept and dropped so far. */
export type VersionedKeyMeta = {
  readonly segments: readonly number[];
  /** Versions stored per segment (the first may still hold dropped ones, older than firstMs). */
  readonly sizes: readonly number[];
  /** Versions kept. */
  readonly count: number;
  /** > 0 means times before the oldest version kept are unknown. */
  readonly dropped: number;
  /** validFrom of the oldest version kept (null: none); older ones still stored are dropped. */
  readonly firstMs: number | null;
  /** validFrom of the second oldest version kept (null: fewer than two): the bound drops the oldest once this is at or before it. */
  readonly nextMs: number | null;
};

/** One segment: parallel arrays sorted by validFrom, ascending (never empty). */
export type VersionedSegment<V> = {
  readonly validFrom: readonly number[];
  readonly values: readonly V[];
};

export type VersionedEntry<V> = VersionedKeyMeta | VersionedSegment<V>;

/** One version as returned by lookups. `validToMs` is the next version's validFrom (null for the latest). */
export type Version<V> = {
  readonly value: V;
  readonly validFromMs: number;
  readonly validToMs: number | null;
};

/** What a put did: a new version, a replaced one (same time), or nothing (too old to keep). */
export type PutResult = "inserted" | "replaced" | "refused";

export type VersionedTableOptions = {
  /** How far behind the watermark versions are kept (default: forever, i.e. only the cap applies). */
  readonly historyMs?: number;
  /** At most this many versions per key (default 1000). */
  readonly maxVersions?: number;
  /** Event time per segment entry (default 1000). */
  readonly segmentMs?: number;
  /** The watermark the history bound follows (default: none, i.e. minus infinity). */
  readonly watermark?: () => number;
};

export const versionedTableDefaults = Object.freeze({ historyMs: Number.POSITIVE_INFINITY, maxVersions: 1000, segmentMs: 1000 });

/** How many elements of a sorted array are < x. */
function countBelow(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the last element ≤ ts in a sorted array, or -1. */
function floorIndex(sorted: readonly number[], ts: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= ts) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const EMPTY_META: VersionedKeyMeta = Object.freeze({ segments: [], sizes: [], count: 0, dropped: 0, firstMs: null, nextMs: null });

export class VersionedTable<V> {
  private readonly historyMs: number;
  private readonly maxVersions: number;
  private readonly segmentMs: number;
  private readonly watermark: () => number;

  constructor(
    private readonly store: KeyValueStore<VersionedEntry<V>>,
    options: VersionedTableOptions = {},
  ) {
    this.historyMs = options.historyMs ?? versionedTableDefaults.historyMs;
    this.maxVersions = options.maxVersions ?? versionedTableDefaults.maxVersions;
    this.segmentMs = options.segmentMs ?? versionedTableDefaults.segmentMs;
    if (!(this.historyMs >= 0)) throw new RangeError("historyMs must be >= 0");
    if (!Number.isInteger(this.maxVersions) || this.maxVersions < 1) throw new RangeError("maxVersions must be an integer >= 1");
    if (!(this.segmentMs > 0 && Number.isFinite(this.segmentMs))) throw new RangeError("segmentMs must be a finite number > 0");
    this.watermark = options.watermark ?? (() => Number.NEGATIVE_INFINITY);
  }

  put(key: string, value: V, validFromMs: number): PutResult {
    if (!Number.isFinite(validFromMs)) throw new RangeError("validFromMs must be a finite number");
    const meta = this.meta(key);
    const older = meta.firstMs !== null && validFromMs < meta.firstMs;
    if (older && (meta.dropped > 0 || meta.count >= this.maxVersions)) return "refused";
    // The bound keeps the newest version at or before it: an older one would be dropped at once.
    const bound = this.bound();
    if (validFromMs < bound && meta.firstMs !== null && meta.firstMs <= bound) {
      const atBound = this.versionAsOf(key, bound);
      if (atBound !== undefined && atBound.validFromMs > validFromMs) return "refused";
    }
    const id = this.segmentOf(validFromMs);
    const segment = this.segment(key, id);
    const validFrom = segment ? segment.validFrom.slice() : [];
    const values = segment ? segment.values.slice() : [];
    let result: PutResult = "inserted";
    if (validFrom.length === 0 || validFrom[validFrom.length - 1]! < validFromMs) {
      // The usual case: the newest version of its segment.
      validFrom.push(validFromMs);
      values.push(value);
    } else {
      const at = floorIndex(validFrom, validFromMs);
      if (at >= 0 && validFrom[at] === validFromMs) {
        values[at] = value;
        result = "replaced";
      } else {
        validFrom.splice(at + 1, 0, validFromMs);
        values.splice(at + 1, 0, value);
      }
    }
    this.store.put(this.segmentKey(key, id), { validFrom, values });
    let next = meta;
    if (result === "inserted") {
      const segments = meta.segments.slice();
      const sizes = meta.sizes.slice();
      const s = floorIndex(segments, id);
      if (segment) sizes[s]! += 1;
      else {
        segments.splice(s + 1, 0, id);
        sizes.splice(s + 1, 0, 1);
      }
      const { firstMs, nextMs } = meta;
      const ends =
        firstMs === null
          ? { firstMs: validFromMs, nextMs: null }
          : older
            ? { firstMs: validFromMs, nextMs: firstMs }
            : { firstMs, nextMs: nextMs === null || validFromMs < nextMs ? validFromMs : nextMs };
      next = { segments, sizes, count: meta.count + 1, dropped: meta.dropped, ...ends };
    }
    next = this.bounded(key, next);
    if (next !== meta) this.store.put(key, next);
    return result;
  }

  /** The value valid at `tsMs`, or undefined (none yet, or older than the history kept). */
  asOf(key: string, tsMs: number): V | undefined {
    return this.versionAsOf(key, tsMs)?.value;
  }

  versionAsOf(key: string, tsMs: number): Version<V> | undefined {
    const meta = this.store.get(key) as VersionedKeyMeta | undefined;
    if (meta?.firstMs == null || tsMs < meta.firstMs) return undefined;
    // The last segment starting at or before ts, then earlier ones if it has nothing at or before ts.
    for (let s = floorIndex(meta.segments, this.segmentOf(tsMs)); s >= 0; s--) {
      const segment = this.segment(key, meta.segments[s]!)!;
      const i = floorIndex(segment.validFrom, tsMs);
      if (i >= 0) return this.versionAt(key, meta, s, segment, i);
    }
    return undefined;
  }

  /** The value with the latest validFrom, or undefined. */
  latest(key: string): V | undefined {
    return this.latestVersion(key)?.value;
  }

  latestVersion(key: string): Version<V> | undefined {
    const meta = this.store.get(key) as VersionedKeyMeta | undefined;
    if (meta?.firstMs == null) return undefined;
    const s = meta.segments.length - 1;
    const segment = this.segment(key, meta.segments[s]!)!;
    return this.versionAt(key, meta, s, segment, segment.validFrom.length - 1);
  }

  /** The versions valid from a time in [fromMs, toMs], oldest first. */
  range(key: string, fromMs: number, toMs: number): Array<Version<V>> {
    const meta = this.store.get(key) as VersionedKeyMeta | undefined;
    if (meta?.firstMs == null || toMs < fromMs) return [];
    const from = Math.max(fromMs, meta.firstMs);
    const last = this.segmentOf(toMs);
    const times: number[] = [];
    const values: V[] = [];
    let s = Math.max(0, floorIndex(meta.segments, this.segmentOf(from)));
    for (; s < meta.segments.length && meta.segments[s]! <= last; s++) {
      const segment = this.segment(key, meta.segments[s]!)!;
      for (let i = 0; i < segment.validFrom.length; i++) {
        const t = segment.validFrom[i]!;
        if (t < from) continue;
        if (t > toMs) return this.closed(times, values, t);
        times.push(t);
        values.push(segment.values[i]!);
      }
    }
    // The last one found is valid until the next version, in a later segment if any.
    const after = s < meta.segments.length ? this.segment(key, meta.segments[s]!)!.validFrom[0]! : null;
    return this.closed(times, values, after);
  }

  /** Every version kept for the key, oldest first. */
  versions(key: string): Array<Version<V>> {
    return this.range(key, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
  }

  /** Versions dropped for the key so far (history bound or cap). */
  dropped(key: string): number {
    return this.meta(key).dropped;
  }

  /** Applies the history bound and the cap to one key now (puts do this for the key they write). */
  expire(key: string): void {
    const meta = this.store.get(key) as VersionedKeyMeta | undefined;
    if (meta === undefined) return;
    const next = this.bounded(key, meta);
    if (next !== meta) this.store.put(key, next);
  }

  private bound(): number {
    return this.watermark() - this.historyMs;
  }

  private segmentOf(ts: number): number {
    return Number.isFinite(ts) ? Math.floor(ts / this.segmentMs) : ts > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
  }

  private segmentKey(key: string, id: number): string {
    return `${key}\u0000${id}`;
  }

  private meta(key: string): VersionedKeyMeta {
    return (this.store.get(key) as VersionedKeyMeta | undefined) ?? EMPTY_META;
  }

  private segment(key: string, id: number): VersionedSegment<V> | undefined {
    return this.store.get(this.segmentKey(key, id)) as VersionedSegment<V> | undefined;
  }

  private versionAt(key: string, meta: VersionedKeyMeta, s: number, segment: VersionedSegment<V>, i: number): Version<V> {
    let validToMs: number | null = segment.validFrom[i + 1] ?? null;
    if (validToMs === null && s + 1 < meta.segments.length) validToMs = this.segment(key, meta.segments[s + 1]!)!.validFrom[0]!;
    return { value: segment.values[i]!, validFromMs: segment.validFrom[i]!, validToMs };
  }

  /** Versions from parallel arrays, each valid until its successor (the last one until `after`). */
  private closed(times: readonly number[], values: readonly V[], after: number | null): Array<Version<V>> {
    const out = new Array<Version<V>>(times.length);
    for (let i = 0; i < times.length; i++) out[i] = { value: values[i]!, validFromMs: times[i]!, validToMs: times[i + 1] ?? after };
    return out;
  }

  /**
   * Drops what the history bound and the cap say; the same meta when nothing goes. Walks from the
   * oldest version kept, so the work is the versions dropped (plus one look at the next).
   */
  private bounded(key: string, meta: VersionedKeyMeta): VersionedKeyMeta {
    const overCap = meta.count - this.maxVersions;
    const bound = this.bound();
    // Nothing goes unless over the cap, or the second oldest version is at or before the bound.
    if (overCap <= 0 && !(meta.nextMs !== null && meta.nextMs <= bound)) return meta;
    const segments = meta.segments.slice();
    const sizes = meta.sizes.slice();
    let segment = this.segment(key, segments[0]!)!;
    // (segment, i): the oldest version kept. It goes while over the cap, or while the next one is still at or before the bound.
    let i = countBelow(segment.validFrom, meta.firstMs!);
    let drop = 0;
    let nextMs: number | null = null;
    while (drop < meta.count - 1) {
      const inSegment = i + 1 < segment.validFrom.length;
      nextMs = inSegment ? segment.validFrom[i + 1]! : this.segment(key, segments[1]!)!.validFrom[0]!;
      if (!(drop < overCap || nextMs <= bound)) break;
      drop++;
      nextMs = null;
      if (inSegment) i++;
      else {
        // Every version of the first segment is dropped now: the segment goes.
        this.store.delete(this.segmentKey(key, segments[0]!));
        segments.shift();
        sizes.shift();
        segment = this.segment(key, segments[0]!)!;
        i = 0;
      }
    }
    if (drop === 0) return meta;
    return { segments, sizes, count: meta.count - drop, dropped: meta.dropped + drop, firstMs: segment.validFrom[i]!, nextMs };
  }
}
