/**
 * What a windowed operator emits: window results (kind final / update / early) on the results
 * stream, and records too late for any window on the late stream. One union, discriminated by
 * `kind`, so an operator has a single output type (the engine's Emitter is single-typed).
 */

/** A half-open event-time interval [startMs, endMs). */
export type WindowBounds = {
  readonly startMs: number;
  readonly endMs: number;
};

/**
 * - `early`: the window is still open (watermark < end); a later result replaces it.
 * - `final`: the first result after the watermark passed the window's end.
 * - `update`: a record within the allowed lateness changed a window already emitted as final
 *   (or a session merge changed it); replaces the previous result for the same key and window.
 */
export type WindowResultKind = "early" | "final" | "update";

export type WindowResult<R> = {
  readonly kind: WindowResultKind;
  readonly key: string;
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly result: R;
  /**
   * Session windows only: windows of this key emitted before (early or final) that were merged
   * into this one and are superseded by it. Absent when nothing earlier is superseded.
   */
  readonly supersedes?: ReadonlyArray<WindowBounds>;
};

/** A record later than its windows' end plus the allowed lateness: it updated no window. */
export type LateRecord<I> = {
  readonly kind: "late";
  readonly key: string;
  readonly value: I;
  readonly timestampMs: number;
  /** The watermark when the record arrived. */
  readonly watermarkMs: number;
};

export type WindowedOutput<I, R> = WindowResult<R> | LateRecord<I>;

export function isWindowResult<I, R>(out: WindowedOutput<I, R>): out is WindowResult<R> {
  return out.kind !== "late";
}
