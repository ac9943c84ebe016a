/**
 * At most one log line per key per interval; the lines held back are counted and the count goes
 * out with the next line of that key. For messages an outside party can make Weir repeat at will
 * (a client's refused handshakes, a broker's connection errors during a restart).
 */
export class LogThrottle {
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    /** Keys remembered at most (a flood of distinct keys cannot grow memory without bound). */
    private readonly maxKeys = 1000,
  ) {}

  /** Whether a line for `key` may go out now, and how many were held back since the last one. */
  admit(key: string, now = Date.now()): { readonly log: boolean; readonly suppressed: number } {
    const last = this.seen.get(key);
    if (last && now - last.at < this.intervalMs) {
      last.suppressed++;
      return { log: false, suppressed: 0 };
    }
    if (this.seen.size >= this.maxKeys) this.seen.clear();
    this.seen.set(key, { at: now, suppressed: 0 });
    return { log: true, suppressed: last?.suppressed ?? 0 };
  }
}
