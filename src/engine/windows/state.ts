/**
 * Window state as stored per record key: plain JSON, so the runtime can write it to a changelog
 * and restore it. One store entry per key holds that key's open windows, in start order.
 */
import type { WindowBounds } from "./window.js";

export type StoredWindow<A> = {
  readonly startMs: number;
  readonly endMs: number;
  readonly acc: A;
  /** A final result has been emitted (later complete results are updates). */
  readonly fired: boolean;
  /** Changed since the last final/update: emit one when the watermark reaches the end. */
  readonly pending: boolean;
  /** Some result (early, final or update) was emitted for exactly these bounds. */
  readonly emitted: boolean;
  /** Session merges: emitted windows this one replaces, to announce with its next result. */
  readonly supersedes?: WindowBounds[];
};

export type KeyWindows<A> = {
  readonly windows: ReadonlyArray<StoredWindow<A>>;
};

/** The watermark at which this window next needs attention: firing, or purging. */
export function dueAt(window: StoredWindow<unknown>, allowedLatenessMs: number): number {
  const purgeAt = window.endMs + allowedLatenessMs;
  return window.pending ? Math.min(window.endMs, purgeAt) : purgeAt;
}

export function byStart(a: WindowBounds, b: WindowBounds): number {
  return a.startMs - b.startMs;
}
