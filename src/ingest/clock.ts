/**
 * The ingest path's one source of time. Two kinds, kept apart on purpose: wall time (ms since the
 * epoch) is what event times, dead-letter receipt times and span times are compared with, and it
 * may jump (NTP); monotonic time never jumps and is only good for durations (batch latency, Redis
 * and Kafka round trips). Injected so tests can drive both; the default reads the process clocks.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch: for timestamps, and for comparing with event times. */
  wallMs(): number;
  /** Milliseconds from an arbitrary origin, never going back: for durations only. */
  monotonicMs(): number;
}

/**
 * The process clocks. Read through the globals at each call (not bound once), so fake timers
 * installed after this module loaded still drive it.
 */
export const systemClock: Clock = Object.freeze({
  wallMs: () => Date.now(),
  monotonicMs: () => performance.now(),
});

/** Starts measuring a duration on `clock`'s monotonic time; the function returns the ms elapsed so far. */
export function stopwatch(clock: Clock): () => number {
  const started = clock.monotonicMs();
  return () => clock.monotonicMs() - started;
}
