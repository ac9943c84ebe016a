/**
 * A repartitioned job's event time on one task: how far each source partition of its input has
 * got (WatermarkMarker), kept in the task's state, and — once every source has been heard from —
 * the lowest over the sources that are not idle: the event time the task's watermark may follow
 * (Flink's watermark propagation). A source not heard from yet holds it back: its records, when
 * they come, must not find their windows closed by the others.
 */
import type { KeyValueStore } from "../engine/types.js";
import type { WatermarkMarker } from "../kafka-contract.js";

/** How long a source partition may have no records before it stops holding the tasks' event time back, for jobs without an idle policy. */
export const DEFAULT_SOURCE_IDLE_MS = 10_000;

/** Where a task keeps its sources (in the job's own "__job" store, JOB_IDENTITY_STORE). */
export const TASK_SOURCES_KEY = "sources";

/** Per source: its highest event time (null: none yet, e.g. idle from the start) and whether it is idle. Plain JSON. */
type Sources = Record<string, { readonly maxEventTimeMs: number | null; readonly idle: boolean }>;
type State = { readonly of: number; readonly sources: Sources };

export class SourceWatermarks {
  /** The event time last returned (not persisted: advancing a watermark again is harmless). */
  private advancedTo = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: KeyValueStore<unknown>,
    private readonly key: string,
  ) {}

  /** Applies a marker; returns the task's new event time when it rose, else undefined. */
  apply(marker: WatermarkMarker): number | undefined {
    const state = this.store.get(this.key) as State | undefined;
    const sources: Sources = { ...state?.sources };
    const before = sources[marker.source];
    const previous = before?.maxEventTimeMs ?? null;
    const maxEventTimeMs = marker.maxEventTimeMs === undefined ? previous : Math.max(previous ?? marker.maxEventTimeMs, marker.maxEventTimeMs);
    sources[marker.source] = { maxEventTimeMs, idle: marker.idle === true };
    this.store.put(this.key, { of: marker.of, sources } satisfies State);
    if (Object.keys(sources).length < marker.of) return undefined;
    let lowest = Number.POSITIVE_INFINITY;
    for (const s of Object.values(sources)) if (!s.idle && s.maxEventTimeMs !== null && s.maxEventTimeMs < lowest) lowest = s.maxEventTimeMs;
    if (lowest === Number.POSITIVE_INFINITY || lowest <= this.advancedTo) return undefined;
    this.advancedTo = lowest;
    return lowest;
  }
}
