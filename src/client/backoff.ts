/** Reconnect delays: exponential with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export type Backoff = {
  /** The cap of the first retry's delay (default 100 ms). */
  readonly initialMs?: number;
  /** The cap of any delay (default 10 s). */
  readonly maxMs?: number;
};

/** A random delay in [0, min(max, initial · 2^attempt)); attempt 0 is the first retry. */
export function backoffDelay(attempt: number, backoff: Backoff = {}, random: () => number = Math.random): number {
  const cap = Math.min(backoff.maxMs ?? 10_000, (backoff.initialMs ?? 100) * 2 ** Math.min(attempt, 30));
  return random() * cap;
}
