/**
 * Window assigners: which event-time windows a record belongs to. Plain data (so options stay
 * serialisable and comparable), built with `tumbling`, `hopping` and `session`.
 */
import type { WindowBounds } from "./window.js";

export type TumblingWindows = { readonly type: "tumbling"; readonly sizeMs: number };
export type HoppingWindows = { readonly type: "hopping"; readonly sizeMs: number; readonly advanceMs: number };
/** Records less than `gapMs` apart (in event time) belong to the same session. */
export type SessionWindows = { readonly type: "session"; readonly gapMs: number };

export type WindowAssigner = TumblingWindows | HoppingWindows | SessionWindows;

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer number of ms, got ${value}`);
  }
  return value;
}

/** Fixed, non-overlapping windows [k*size, (k+1)*size). */
export function tumbling(sizeMs: number): TumblingWindows {
  return Object.freeze({ type: "tumbling", sizeMs: positiveInteger("sizeMs", sizeMs) });
}

/** Fixed windows of `sizeMs` starting every `advanceMs` (overlapping when advance < size). */
export function hopping(sizeMs: number, advanceMs: number): HoppingWindows {
  positiveInteger("sizeMs", sizeMs);
  positiveInteger("advanceMs", advanceMs);
  if (advanceMs > sizeMs) throw new RangeError(`advanceMs (${advanceMs}) must not exceed sizeMs (${sizeMs})`);
  return Object.freeze({ type: "hopping", sizeMs, advanceMs });
}

/** Activity sessions: a session ends after `gapMs` without records. */
export function session(gapMs: number): SessionWindows {
  return Object.freeze({ type: "session", gapMs: positiveInteger("gapMs", gapMs) });
}

/**
 * The fixed windows (tumbling or hopping) containing `timestampMs`, in ascending start (and end)
 * order. For sessions, the record's own proto-session [t, t + gap), before merging.
 */
export function assignWindows(assigner: WindowAssigner, timestampMs: number): WindowBounds[] {
  switch (assigner.type) {
    case "tumbling": {
      const startMs = Math.floor(timestampMs / assigner.sizeMs) * assigner.sizeMs;
      return [{ startMs, endMs: startMs + assigner.sizeMs }];
    }
    case "hopping": {
      const out: WindowBounds[] = [];
      const last = Math.floor(timestampMs / assigner.advanceMs) * assigner.advanceMs;
      for (let startMs = last; startMs > timestampMs - assigner.sizeMs; startMs -= assigner.advanceMs) {
        out.push({ startMs, endMs: startMs + assigner.sizeMs });
      }
      return out.reverse();
    }
    case "session":
      return [{ startMs: timestampMs, endMs: timestampMs + assigner.gapMs }];
  }
}
