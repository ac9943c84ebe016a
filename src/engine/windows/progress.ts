/**
 * Operator progress kept next to the window state (its own store, so the runtime restores it from
 * the changelog too): the highest event time seen, the watermark, and the late-record count.
 * Watermarks only move forward.
 */

export type WindowProgress = {
  /** Highest record event time seen; null before the first record. */
  readonly maxEventTimeMs: number | null;
  /** Current watermark; null before the first record or explicit advance (i.e. minus infinity). */
  readonly watermarkMs: number | null;
  /** Records emitted on the late stream so far. */
  readonly lateCount: number;
};

export const PROGRESS_KEY = "progress";

export const initialProgress: WindowProgress = Object.freeze({ maxEventTimeMs: null, watermarkMs: null, lateCount: 0 });

/** The watermark as a number (minus infinity before any). */
export function watermarkOf(progress: WindowProgress): number {
  return progress.watermarkMs ?? Number.NEGATIVE_INFINITY;
}

/** Progress after seeing a record at `timestampMs`, with bounded out-of-orderness. */
export function observeEventTime(progress: WindowProgress, timestampMs: number, maxOutOfOrdernessMs: number): WindowProgress {
  const maxEventTimeMs = progress.maxEventTimeMs === null ? timestampMs : Math.max(progress.maxEventTimeMs, timestampMs);
  return advanceTo({ ...progress, maxEventTimeMs }, maxEventTimeMs - maxOutOfOrdernessMs);
}

/** Progress with the watermark at `watermarkMs`, unless it already is further. */
export function advanceTo(progress: WindowProgress, watermarkMs: number): WindowProgress {
  if (progress.watermarkMs !== null && progress.watermarkMs >= watermarkMs) return progress;
  return { ...progress, watermarkMs };
}
