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

/** Longest a client waits before re-sending an event the gateway answered RETRY_AFTER. */
export const MAX_RETRY_DELAY_MS = 4_000;

/**
 * The delay before re-sending an event answered RETRY_AFTER for the `retries`-th time in a row:
 * what the gateway asked for, growing by half with each answer in a row (up to MAX_RETRY_DELAY_MS),
 * so an event stuck behind an outage or an in-flight claim is not resent many times a second.
 */
export function retryDelayMs(askedMs: number, retries: number): number {
  const asked = askedMs || 1000;
  return Math.min(Math.max(asked, MAX_RETRY_DELAY_MS), asked * 1.5 ** Math.max(0, retries - 1));
}
