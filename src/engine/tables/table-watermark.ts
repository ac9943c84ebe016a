/**
 * TableWatermark: how far a table (or stream) fed by several sources has progressed in event
 * time. Per source (a string such as "topic/partition") it keeps the highest event time seen;
 * the watermark is the minimum over the known sources of (highest − maxOutOfOrdernessMs), as
 * Flink combines the watermarks of a source's splits, or an explicit `advanceTo` (an idle policy
 * calls it with a time derived from the wall clock), whichever is further. It never moves back.
 *
 * Watermark W means "no record earlier than W is expected any more": a record with time < W is
 * late (counted); one at W is not. A source named in `sources` holds the watermark back (at minus
 * infinity) until it has had a record, so a partition whose first batch comes later does not find
 * its records late; one first seen later joins the minimum then (the watermark does not go back).
 *
 * State is one plain JSON entry in a KeyValueStore, so it survives a restore from the changelog.
 * The entry belongs to this instance (it keeps a copy of what it wrote, read on every record).
 */
import type { KeyValueStore } from "../types.js";

export type TableWatermarkState = {
  /** Highest event time per source; null for a declared source that has had no record yet. */
  readonly sources: Readonly<Record<string, number | null>>;
  /** Current watermark; null = minus infinity. */
  readonly watermarkMs: number | null;
  /** Records seen with an event time before the watermark. */
  readonly lateCount: number;
};

export type TableWatermarkOptions = {
  /** How far behind its source's highest event time a record may arrive (default 0). */
  readonly maxOutOfOrdernessMs?: number;
  /** Sources expected from the start (default: none; sources join when first seen). */
  readonly sources?: readonly string[];
};

/** Infinity (end of input) is kept as this, which JSON can carry. */
const END_OF_TIME = Number.MAX_SAFE_INTEGER;

export class TableWatermark {
  private readonly maxOutOfOrdernessMs: number;
  private readonly declared: readonly string[];
  private cached: TableWatermarkState | undefined;

  /** The state lives in `store` under `key` (several watermarks may share a store). */
  constructor(
    private readonly store: KeyValueStore<TableWatermarkState>,
    private readonly key: string,
    options: TableWatermarkOptions = {},
  ) {
    this.maxOutOfOrdernessMs = options.maxOutOfOrdernessMs ?? 0;
    if (!(this.maxOutOfOrdernessMs >= 0 && Number.isFinite(this.maxOutOfOrdernessMs))) throw new RangeError("maxOutOfOrdernessMs must be a finite number >= 0");
    this.declared = [...(options.sources ?? [])];
  }

  /** The watermark (minus infinity before any). */
  get watermarkMs(): number {
    return this.state().watermarkMs ?? Number.NEGATIVE_INFINITY;
  }

  get lateCount(): number {
    return this.state().lateCount;
  }

  /** Highest event time per source (null: declared, nothing seen yet). */
  sources(): Readonly<Record<string, number | null>> {
    return this.state().sources;
  }

  /**
   * A record of `source` at `tsMs` was seen. Returns true when it is late (before the watermark
   * as it stood before this record). Then the source's highest time and the watermark move on.
   */
  observe(source: string, tsMs: number): boolean {
    if (!Number.isFinite(tsMs)) throw new RangeError("event time must be a finite number");
    const state = this.state();
    const late = state.watermarkMs !== null && tsMs < state.watermarkMs;
    const highest = state.sources[source];
    if (highest !== undefined && highest !== null && highest >= tsMs) {
      if (late) this.save({ ...state, lateCount: state.lateCount + 1 });
      return late;
    }
    const sources = { ...state.sources, [source]: tsMs };
    const watermarkMs = this.further(state.watermarkMs, this.fromSources(sources));
    this.save({ sources, watermarkMs, lateCount: state.lateCount + (late ? 1 : 0) });
    return late;
  }

  /** Moves the watermark to `watermarkMs` unless it is further already (Infinity = end of input). */
  advanceTo(watermarkMs: number): void {
    if (Number.isNaN(watermarkMs)) throw new RangeError("watermark must be a number");
    if (watermarkMs === Number.NEGATIVE_INFINITY) return;
    const state = this.state();
    const next = this.further(state.watermarkMs, Math.min(watermarkMs, END_OF_TIME));
    if (next !== state.watermarkMs) this.save({ ...state, watermarkMs: next });
  }

  private save(state: TableWatermarkState): void {
    this.cached = state;
    this.store.put(this.key, state);
  }

  private state(): TableWatermarkState {
    if (this.cached !== undefined) return this.cached;
    const stored = this.store.get(this.key);
    if (stored !== undefined) return (this.cached = stored);
    const sources: Record<string, number | null> = {};
    for (const s of this.declared) sources[s] = null;
    return { sources, watermarkMs: null, lateCount: 0 };
  }

  /** min over sources of (highest − bound); null while some source has seen nothing or there is none. */
  private fromSources(sources: Readonly<Record<string, number | null>>): number | null {
    let min = Number.POSITIVE_INFINITY;
    for (const highest of Object.values(sources)) {
      if (highest === null) return null;
      min = Math.min(min, highest - this.maxOutOfOrdernessMs);
    }
    return min === Number.POSITIVE_INFINITY ? null : min;
  }

  private further(current: number | null, candidate: number | null): number | null {
    if (candidate === null) return current;
    if (current === null) return candidate;
    return Math.max(current, candidate);
  }
}
