/**
 * Settles claims their gateway will never settle (stale: it stopped heartbeating, or left the
 * claim unconfirmed past the pending TTL). Such an event may or may not be in Kafka, so nothing is
 * published for it before Kafka is asked (PublishedLookup): found → confirmed, the client is told
 * DUPLICATE; not found → taken over by compare-and-swap on the stale value (of several gateways,
 * one wins), and the winner publishes it. A lookup that cannot tell, or a lost take-over, is
 * answered RETRY_AFTER: never an unverified publish.
 * See docs/decisions/0010-stale-claims-verified-in-kafka.md.
 */
import { WeirError } from "../errors.js";
import type { DedupStore, IngestObserver, PublishedLookup, PublishedQuery } from "./ports.js";

/** A key whose claim was found stale. */
export type StaleClaim = {
  /** The idempotency key, `tenant:id` (as PublishedLookup names what it found). */
  readonly key: string;
  /** The claim's value as the claim found it: the take-over only wins if it is still there. */
  readonly staleValue: string;
  /** Where the event would be in Kafka. */
  readonly query: PublishedQuery;
};

/** What became of a batch's stale claims; each claim is in exactly one of the three. */
export type StaleVerdict<T extends StaleClaim> = {
  /** Already in Kafka, and confirmed: answer DUPLICATE. */
  readonly published: readonly T[];
  /**
   * Not in Kafka, and now claimed under the caller's token with a fresh claim time: publish them
   * at once (the age of the claim counts from the take-over), then confirm or release as usual.
   */
  readonly takenOver: readonly T[];
  /** Not settled here: answer RETRY_AFTER with `error`, publishing nothing. */
  readonly retry: ReadonlyArray<{ readonly claim: T; readonly error: WeirError }>;
};

export type StaleClaimDeps = {
  readonly lookup: PublishedLookup;
  readonly dedup: Pick<DedupStore, "takeOver">;
  /** A take-over call that failed may still have run: its claims are released later (AbandonedClaims). */
  readonly abandon?: (keys: readonly string[], token: string) => void;
  /** Marks keys published; fire and forget (the service's confirm, with its metrics and logging). */
  readonly confirm: (keys: string[]) => void;
  readonly observer?: Pick<IngestObserver, "staleClaims">;
  /** Called with failures that are handled (answered RETRY_AFTER) but worth a log line. */
  readonly onError?: (what: string, err: unknown) => void;
};

export class StaleClaimVerifier {
  constructor(private readonly deps: StaleClaimDeps) {}

  /**
   * Verifies `stale` in Kafka with one lookup, confirms those found, and takes the others over for
   * `token` with one compare-and-swap. Never rejects: failures become `retry` verdicts.
   */
  async verify<T extends StaleClaim>(stale: readonly T[], token: string): Promise<StaleVerdict<T>> {
    const { lookup, dedup, observer, onError } = this.deps;
    const inProgress = new WeirError("WEIR_ERR_IN_PROGRESS");
    let found: Set<string>;
    try {
      found = await lookup.find(stale.map((s) => s.query));
    } catch (err) {
      onError?.("verifying stale claims in Kafka failed", err);
      observer?.staleClaims?.("failed", stale.length);
      return { published: [], takenOver: [], retry: stale.map((claim) => ({ claim, error: inProgress })) };
    }

    const published = stale.filter((s) => found.has(s.key));
    const missing = stale.filter((s) => !found.has(s.key));
    if (published.length > 0) {
      observer?.staleClaims?.("found", published.length);
      this.deps.confirm(published.map((s) => s.key));
    }
    if (missing.length === 0) return { published, takenOver: [], retry: [] };

    const taken = await dedup
      .takeOver(
        missing.map((s) => s.key),
        missing.map((s) => s.staleValue),
        token,
      )
      .catch((err: unknown) => {
        onError?.("dedup take-over failed", err);
        this.deps.abandon?.(
          missing.map((s) => s.key),
          token,
        );
        return undefined;
      });
    if (!taken) {
      observer?.staleClaims?.("failed", missing.length);
      const unavailable = new WeirError("WEIR_ERR_DEDUP_UNAVAILABLE", "take-over failed");
      return { published, takenOver: [], retry: missing.map((claim) => ({ claim, error: unavailable })) };
    }
    // Lost to another gateway's compare-and-swap: that gateway publishes (or finds) the event.
    const takenOver = missing.filter((_, i) => taken[i]);
    const lost = missing.filter((_, i) => !taken[i]);
    if (takenOver.length > 0) observer?.staleClaims?.("republished", takenOver.length);
    if (lost.length > 0) observer?.staleClaims?.("lost", lost.length);
    return { published, takenOver, retry: lost.map((claim) => ({ claim, error: inProgress })) };
  }
}
