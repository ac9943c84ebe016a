/**
 * A process's lifecycle with explicit states — starting → ready → draining → stopped — and the
 * resources it owns. Each start step that opens something registers how to close it; if a later
 * step fails, what was opened is closed again (newest first) and the start fails with the step's
 * error, so a half-started gateway leaves no socket, consumer or timer behind. Stopping drains
 * first (the owner's hook), then closes everything it owns, newest first, each under a deadline so
 * one stuck resource cannot keep the process from exiting.
 */

export type LifecycleState = "starting" | "ready" | "draining" | "stopped";

type Owned = { readonly name: string; readonly close: () => Promise<void> | void };

export type LifecycleOptions = {
  /** Longest a single resource may take to close before it is given up (logged) and the next one closes. */
  readonly closeTimeoutMs: number;
  /** A resource that failed or timed out while closing. */
  readonly onCloseError: (name: string, err: unknown) => void;
};

export class Lifecycle {
  private current: LifecycleState = "starting";
  private readonly owned: Owned[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: LifecycleOptions) {}

  get state(): LifecycleState {
    return this.current;
  }

  /**
   * Runs one start step: `open` creates a resource, `close` is how to release it. Once opened, the
   * resource is owned and closed on stop (or when a later step fails).
   */
  async step<T>(name: string, open: () => Promise<T> | T, close: (resource: T) => Promise<void> | void): Promise<T> {
    if (this.current !== "starting") throw new Error(`lifecycle: step "${name}" after start (${this.current})`);
    const resource = await open();
    this.owned.push({ name, close: () => close(resource) });
    return resource;
  }

  /** Owns something already open (closed on stop, newest first). */
  own(name: string, close: () => Promise<void> | void): void {
    if (this.current === "stopped") throw new Error(`lifecycle: cannot own "${name}" after stop`);
    this.owned.push({ name, close });
  }

  /**
   * Runs the whole start; on failure closes what it opened and rethrows. On success the state is
   * ready.
   */
  async start(steps: () => Promise<void>): Promise<void> {
    try {
      await steps();
    } catch (err) {
      await this.closeOwned();
      this.current = "stopped";
      throw err;
    }
    this.current = "ready";
  }

  /** Drains (`drain`, while the state is draining), then closes everything owned. Idempotent. */
  stop(drain: () => Promise<void> = async () => {}): Promise<void> {
    this.stopping ??= (async () => {
      this.current = "draining";
      try {
        await drain();
      } catch (err) {
        this.opts.onCloseError("drain", err);
      }
      await this.closeOwned();
      this.current = "stopped";
    })();
    return this.stopping;
  }

  private async closeOwned(): Promise<void> {
    for (const { name, close } of this.owned.splice(0).reverse()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), this.opts.closeTimeoutMs)));
      try {
        const outcome = await Promise.race([Promise.resolve().then(close), deadline]);
        if (outcome === "timeout") this.opts.onCloseError(name, new Error(`did not close within ${this.opts.closeTimeoutMs} ms`));
      } catch (err) {
        this.opts.onCloseError(name, err);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
