/**
 * Claims this gateway gave up on: the claim (or take-over) call failed or timed out, so the
 * events were answered RETRY_AFTER and nothing was published under the call's token. The script
 * may still have run, or run later: a frozen Redis executes what sat in its socket buffer when it
 * resumes. Such a claim names a live owner, so it would stay "pending" for the whole pending TTL
 * and answer every retry IN_PROGRESS (an 8 s freeze stalled ~3,000 events for two minutes).
 * Instead the gateway releases them (DEL where the value is still that token) as soon as the store
 * answers again. The release goes out on the same connection after the claim call, so Redis runs
 * it after the claim, whenever that ran; a key a retry has claimed since holds another token and
 * is left alone.
 *
 * Confirms that failed (the event is in Kafka, the claim still says "pending") are retried here
 * too: otherwise the claim answers IN_PROGRESS until the pending TTL, then is verified in Kafka
 * (the chaos suite's 300 ms Redis latency left events unanswered for 125 s).
 */
import type { DedupStore } from "./ports.js";

export type AbandonedClaimsOptions = {
  /** Time between release attempts while the store does not answer. */
  readonly retryMs: number;
  /** Abandoned calls remembered at most (the oldest are forgotten: their claims expire by TTL). */
  readonly maxEntries: number;
  readonly onError?: (what: string, err: unknown) => void;
};

type Entry =
  | { readonly kind: "release"; readonly keys: readonly string[]; readonly token: string }
  | { readonly kind: "confirm"; readonly keys: readonly string[] };

export class AbandonedClaims {
  private readonly entries: Entry[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing = false;
  private closed = false;
  /** Claims released after their call had been given up (metrics, tests). */
  released = 0;
  /** Claims confirmed after their first confirm failed. */
  confirmed = 0;

  constructor(
    private readonly dedup: Pick<DedupStore, "release" | "confirm">,
    private readonly opts: AbandonedClaimsOptions,
  ) {}

  get pending(): number {
    return this.entries.length;
  }

  add(keys: readonly string[], token: string): void {
    this.push({ kind: "release", keys, token });
  }

  /** Keys whose events are in Kafka but whose confirm failed: confirmed once the store answers. */
  confirmLater(keys: readonly string[]): void {
    this.push({ kind: "confirm", keys });
  }

  private push(entry: Entry): void {
    if (this.closed || entry.keys.length === 0) return;
    this.entries.push(entry);
    if (this.entries.length > this.opts.maxEntries) this.entries.shift();
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.opts.retryMs);
    this.timer.unref?.();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.entries.length > 0 && !this.closed) {
        const entry = this.entries[0]!;
        try {
          if (entry.kind === "release") await this.dedup.release(entry.keys, entry.token);
          else await this.dedup.confirm(entry.keys);
        } catch (err) {
          this.opts.onError?.(`${entry.kind === "release" ? "releasing abandoned" : "confirming"} dedup claims failed (retried)`, err);
          return;
        }
        this.entries.shift();
        if (entry.kind === "release") this.released += entry.keys.length;
        else this.confirmed += entry.keys.length;
      }
    } finally {
      this.flushing = false;
      if (this.entries.length > 0) this.schedule();
    }
  }
}
