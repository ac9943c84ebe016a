/**
 * Conflation windows: per key, only the latest event of a window goes on. The devices' events
 * of a window are answered once the window's survivor is stored (so nothing is acked that a crash
 * could still lose); a window starts with its first event and closes `windowMs` later.
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";

type Window = { latest: Envelope; waiting: Array<{ resolve(): void; reject(e: unknown): void }> };

export class Conflator {
  private readonly windows = new Map<string, Window>();
  /** Events replaced by a later one of their window, so far. */
  superseded = 0;

  constructor(
    /** Stores the survivor of a window (the relay's upstream send). */
    private readonly store: (env: Envelope) => Promise<unknown>,
    private readonly schedule: (ms: number, fn: () => void) => void = (ms, fn) => void setTimeout(fn, ms),
  ) {}

  /** Resolves once the survivor of `env`'s window (env or a later event) is stored. */
  offer(key: string, windowMs: number, env: Envelope): Promise<void> {
    return new Promise((resolve, reject) => {
      const open = this.windows.get(key);
      if (open) {
        open.latest = env;
        open.waiting.push({ resolve, reject });
        this.superseded++;
        return;
      }
      this.windows.set(key, { latest: env, waiting: [{ resolve, reject }] });
      this.schedule(windowMs, () => this.close(key));
    });
  }

  get open(): number {
    return this.windows.size;
  }

  private close(key: string): void {
    const window = this.windows.get(key);
    if (!window) return;
    this.windows.delete(key);
    this.store(window.latest).then(
      () => window.waiting.forEach((w) => w.resolve()),
      (err: unknown) => window.waiting.forEach((w) => w.reject(err)),
    );
  }
}
