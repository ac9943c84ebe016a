/**
 * The ingest path, free of sockets: admit → check → dedup claim → publish → confirm.
 * An event is acked only after Kafka acknowledged it; a refused event is nacked only after its
 * dead-letter record is in Kafka; everything else is RETRY_AFTER, with nothing published
 * (see docs/decisions/0003-dedup-claims.md for why a lost event can never turn into a duplicate).
 * A claim its gateway will never settle (stale) is verified against Kafka before anything is
 * published for it (stale-claims.ts, docs/decisions/0010-stale-claims-verified-in-kafka.md).
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import type { EventResult } from "../gen/weir/v1/protocol_pb.js";
import { WeirError } from "../errors.js";
import type { Admission } from "./admission.js";
import { BatchTrace } from "./batch-trace.js";
import type { EventChecker } from "./check-event.js";
import { stopwatch, systemClock, type Clock } from "./clock.js";
import { IngestBatch, type Accepted, type IngestStats, type Refused } from "./ingest-batch.js";
import { LatencyWindow } from "./latency-window.js";
import {
  NotPublishedError,
  type Claim,
  type DedupStore,
  type EventLog,
  type IngestObserver,
  type OutRecord,
  type PublishedLookup,
  type PublishedQuery,
} from "./ports.js";
import { deadLetterRecord, eventRecord } from "./records.js";
import { StaleClaimVerifier, type StaleClaim } from "./stale-claims.js";
import { AbandonedClaims } from "./abandoned-claims.js";
import { raceTimeout } from "../deadline.js";
import type { Grants } from "../protocol/grants.js";
import type { TenantQuotas } from "./tenant-quotas.js";

export type { IngestStats } from "./ingest-batch.js";

export type IngestOptions = {
  readonly gatewayId: string;
  readonly deadLetterTopic: string;
  readonly retryAfterMs: number;
  /** How long a client waits for Kafka before its events are nacked RETRY_AFTER. */
  readonly publishTimeoutMs: number;
  /** Share of events without a traceparent that start a trace here (when tracing is on). */
  readonly traceSampleRatio?: number;
};

export type IngestDeps = {
  readonly log: EventLog;
  readonly dedup: DedupStore;
  /**
   * Tells whether the event of a stale claim is already in Kafka. Without it a stale claim is
   * treated as pending (RETRY_AFTER WEIR_ERR_IN_PROGRESS) until its key expires.
   */
  readonly lookup?: PublishedLookup;
  /** Replaced by `useChecker` when the gateway loads a new schema image. */
  readonly checker: EventChecker;
  readonly admission: Admission;
  /** Per-tenant rate quotas; a batch over its tenant's quota is answered RETRY_AFTER with the wait. */
  readonly quotas?: TenantQuotas;
  /** Every time the service reads (receipt times, latencies, round trips); the process clocks by default. */
  readonly clock?: Clock;
  /** Called with failures that are handled (nacked) but worth a log line. */
  readonly onError?: (what: string, err: unknown) => void;
  /** Metrics (optional). */
  readonly observer?: IngestObserver;
  /**
   * The gateway's own probe of the brokers: false while they refuse connections. A batch that
   * arrives then is refused at once; without it, one admitted before the log's stall breaker
   * opened (a send must stall `WEIR_KAFKA_STALL_MS` first) waits in a client that retries until
   * the publish timeout (librdkafka, @platformatic/kafka: 60 s).
   */
  readonly kafkaReachable?: () => boolean;
};

/** One attempt at a batch: what its claims and publishes share. */
type Attempt = {
  readonly batch: IngestBatch;
  /** Claims of this attempt are made (and taken over) under this token: `<gatewayId>/<n>`. */
  readonly token: string;
  readonly receivedMs: number;
  readonly trace: BatchTrace | undefined;
};

type StaleAccepted = Accepted & StaleClaim;

export class IngestService {
  private batchCounter = 0;
  private draining = false;
  readonly stats: IngestStats = { ack: 0, duplicate: 0, invalid: 0, retry: 0 };
  /** Batch latency from receipt to results (what a client waits for its acks). */
  readonly latency = new LatencyWindow();

  private checker: EventChecker;
  private readonly clock: Clock;
  /** Present when the service has a PublishedLookup to verify stale claims with. */
  private readonly staleClaims: StaleClaimVerifier | undefined;
  /** Claims whose call failed or timed out: released once the store answers again. */
  readonly abandonedClaims: AbandonedClaims;

  constructor(
    private readonly deps: IngestDeps,
    private readonly opts: IngestOptions,
  ) {
    this.checker = deps.checker;
    this.clock = deps.clock ?? systemClock;
    this.abandonedClaims = new AbandonedClaims(deps.dedup, {
      retryMs: Math.max(50, opts.retryAfterMs),
      maxEntries: 10_000,
      ...(deps.onError ? { onError: deps.onError } : {}),
    });
    this.staleClaims = deps.lookup
      ? new StaleClaimVerifier({
          lookup: deps.lookup,
          dedup: deps.dedup,
          confirm: (keys) => this.confirm(keys),
          abandon: (keys, token) => this.abandonedClaims.add(keys, token),
          ...(deps.observer ? { observer: deps.observer } : {}),
          ...(deps.onError ? { onError: deps.onError } : {}),
        })
      : undefined;
  }

  /** Checks the next batches against another schema image (already checked for compatibility). */
  useChecker(checker: EventChecker): void {
    this.checker = checker;
  }

  /** After this, every new event is answered RETRY_AFTER (the client retries on another gateway). */
  drain(): void {
    this.draining = true;
  }

  /** Stops releasing abandoned claims (the store is about to close; what is left expires by TTL). */
  close(): void {
    this.abandonedClaims.close();
  }

  async publish(tenant: string, events: readonly Envelope[], grants?: Grants): Promise<EventResult[]> {
    const elapsed = stopwatch(this.clock);
    let results: EventResult[] = [];
    try {
      results = await this.publishBatch(new IngestBatch(tenant, events, { stats: this.stats, retryAfterMs: this.opts.retryAfterMs }, grants));
      return results;
    } finally {
      const ms = elapsed();
      this.latency.record(ms);
      this.deps.observer?.batch(results, ms / 1000);
    }
  }

  private async publishBatch(batch: IngestBatch): Promise<EventResult[]> {
    const { admission } = this.deps;
    const { events, tenant, eventBytes } = batch;
    const refusal = this.admit(batch);
    if (refusal) {
      batch.retryAll(refusal.error, refusal.retryAfterMs);
      return batch.results();
    }

    const receivedMs = this.clock.wallMs();
    const trace = BatchTrace.start(events, tenant, receivedMs, this.opts.traceSampleRatio ?? 0);
    const attempt: Attempt = { batch, token: `${this.opts.gatewayId}/${++this.batchCounter}`, receivedMs, trace };
    try {
      const validateStart = this.clock.wallMs();
      const { accepted, refused } = batch.check(this.checker);
      trace?.phase("validate", validateStart, this.clock.wallMs());
      await this.claimAndPublish(attempt, accepted, refused);
    } finally {
      // The admission is held until Kafka settles, even when the client stopped waiting:
      // records still in the producer occupy memory.
      void batch.settled().then(() => admission.release(events.length, eventBytes));
    }
    const results = batch.results();
    trace?.end(results);
    return results;
  }

  /**
   * Takes the batch's admission, or says why the whole batch is refused, before any per-event
   * work: under overload, refusing must stay much cheaper than accepting, or the refusals
   * themselves eat the capacity (see BENCHMARKS.md, overload).
   */
  private admit(batch: IngestBatch): { error: WeirError; retryAfterMs?: number } | undefined {
    const { admission, quotas } = this.deps;
    const { tenant, events, eventBytes } = batch;
    if (this.draining) return { error: new WeirError("WEIR_ERR_DRAINING") };
    if (!this.deps.log.healthy) return { error: new WeirError("WEIR_ERR_KAFKA_UNAVAILABLE", "sends are stalled") };
    if (this.deps.kafkaReachable?.() === false) return { error: new WeirError("WEIR_ERR_KAFKA_UNAVAILABLE", "brokers unreachable") };
    if (!admission.tryAcquire(events.length, eventBytes)) return { error: new WeirError("WEIR_ERR_OVERLOADED") };
    // After the admission, so a batch the gateway could not take anyway does not spend quota.
    const waitMs = quotas?.take(tenant, events.length, eventBytes) ?? 0;
    if (waitMs > 0) {
      admission.release(events.length, eventBytes);
      const { eventsPerSec, bytesPerSec } = quotas!.quotaOf(tenant);
      return {
        error: new WeirError("WEIR_ERR_QUOTA_EXCEEDED", tenant, `${eventsPerSec || "unlimited"} events/s, ${bytesPerSec || "unlimited"} bytes/s`),
        retryAfterMs: waitMs,
      };
    }
    return undefined;
  }

  /** Claims the accepted events, then publishes what it claimed and the dead letters; answers all of them. */
  private async claimAndPublish(attempt: Attempt, accepted: Accepted[], refused: Refused[]): Promise<void> {
    const { batch } = attempt;
    if (accepted.length === 0) return this.send(attempt, [], refused);
    const claims = await this.claim(attempt, accepted);
    if (!claims) {
      const err = new WeirError("WEIR_ERR_DEDUP_UNAVAILABLE", this.deps.dedup.healthy ? "claim failed" : "not connected");
      for (const a of accepted) batch.retry(a.index, err);
      return this.send(attempt, [], refused);
    }

    const verifier = this.staleClaims;
    const fresh: Accepted[] = [];
    const stale: StaleAccepted[] = [];
    let hits = 0;
    for (let j = 0; j < accepted.length; j++) {
      const a = accepted[j]!;
      const claim = claims[j]!;
      if (claim.kind === "claimed") fresh.push(a);
      else if (claim.kind === "done") {
        hits++;
        batch.duplicate(a.index);
      } else if (claim.kind === "stale" && verifier) stale.push(this.staleOf(a, claim.value, batch.tenant));
      else
        batch.retry(
          a.index,
          new WeirError("WEIR_ERR_IN_PROGRESS"),
          inProgressRetryMs(this.opts.retryAfterMs, claim.kind === "pending" ? claim.ageMs : undefined),
        );
    }
    if (stale.length === 0 || !verifier) {
      this.deps.observer?.dedupLookups(claims.length, hits);
      return this.send(attempt, fresh, refused);
    }
    // The fresh claims (and dead letters) go out at once, exactly as in a batch without stale
    // claims: held behind a lookup that can take the lookup timeout, a fresh claim could turn
    // stale by age while its record is still on the way, and another gateway would then find
    // nothing and publish it again. Meanwhile the stale claims are verified. Answered when both are.
    await Promise.all([this.send(attempt, fresh, refused), this.settleStale(verifier, attempt, stale, claims.length, hits)]);
  }

  /** One claim round trip for the accepted events; undefined when the store is down or the claim failed. */
  private async claim(attempt: Attempt, accepted: Accepted[]): Promise<Claim[] | undefined> {
    const { dedup, observer, onError } = this.deps;
    const elapsed = stopwatch(this.clock);
    const claims = dedup.healthy
      ? await dedup
          .claim(
            accepted.map((a) => a.key),
            attempt.token,
          )
          .catch((err: unknown) => {
            onError?.("dedup claim failed", err);
            // The script may still run (a frozen Redis resumes): released once the store answers.
            this.abandonedClaims.add(
              accepted.map((a) => a.key),
              attempt.token,
            );
            return undefined;
          })
      : undefined;
    const ms = elapsed();
    if (attempt.trace) {
      const end = this.clock.wallMs();
      attempt.trace.phase("dedup", end - ms, end);
    }
    if (claims) observer?.dedup("claim", ms / 1000);
    return claims;
  }

  /**
   * Verifies the batch's stale claims and answers them; those taken over go out in a second
   * publish, which starts right after the compare-and-swap that stamped them with a fresh claim
   * time, so their age when the send settles is bounded by the producer's delivery timeout (below
   * the pending TTL) whatever the lookup took.
   */
  private async settleStale(verifier: StaleClaimVerifier, attempt: Attempt, stale: StaleAccepted[], claimCount: number, hits: number): Promise<void> {
    const { batch } = attempt;
    const verdict = await verifier.verify(stale, attempt.token);
    for (const s of verdict.published) batch.duplicate(s.index);
    for (const { claim, error } of verdict.retry) batch.retry(claim.index, error);
    this.deps.observer?.dedupLookups(claimCount, hits + verdict.published.length);
    if (verdict.takenOver.length > 0) await this.send(attempt, verdict.takenOver, []);
  }

  /** An accepted event whose claim was found stale, with where its record would be in Kafka. */
  private staleOf(a: Accepted, staleValue: string, tenant: string): StaleAccepted {
    return { ...a, staleValue, query: publishedQuery(a, tenant) };
  }

  /**
   * Publishes the events claimed under the attempt's token and the dead letters in one call, and
   * answers them: when Kafka acknowledged, or failed, or after the publish timeout (then the claims
   * are kept until Kafka settles, and the batch's admission with them).
   */
  private async send(attempt: Attempt, claimed: readonly Accepted[], refused: readonly Refused[]): Promise<void> {
    const { batch, trace, token } = attempt;
    const { log, observer } = this.deps;
    const { gatewayId, deadLetterTopic, publishTimeoutMs } = this.opts;
    const records: OutRecord[] = [];
    for (const a of claimed) records.push(eventRecord(a.topic, batch.tenant, a.env, trace?.send(a.index, a.topic)));
    for (const r of refused) records.push(deadLetterRecord(deadLetterTopic, batch.tenant, r.env, r.error, gatewayId, attempt.receivedMs));
    if (records.length === 0) return;

    const keys = claimed.map((a) => a.key);
    const elapsed = stopwatch(this.clock);
    const published = log.publish(records);
    if (trace) {
      const traced = claimed.map((a) => a.index);
      published.then(
        () => trace.sent(true, undefined, traced),
        (err: unknown) => trace.sent(false, String(err), traced),
      );
    }
    if (observer) {
      published.then(
        () => observer.publish(records.length, elapsed() / 1000, true),
        () => observer.publish(records.length, elapsed() / 1000, false),
      );
    }
    const outcome = await raceTimeout(published, publishTimeoutMs);
    if (outcome === "ok") {
      for (const a of claimed) batch.ack(a.index);
      for (const r of refused) batch.refuse(r.index, r.error);
      this.confirm(keys);
      return;
    }
    const reason = outcome === "timeout" ? `no ack within ${publishTimeoutMs} ms` : outcome.message;
    const nack = new WeirError("WEIR_ERR_KAFKA_UNAVAILABLE", reason);
    for (const a of claimed) batch.retry(a.index, nack);
    for (const r of refused) batch.retry(r.index, nack);
    if (outcome !== "timeout") {
      this.deps.onError?.("publish failed", outcome);
      if (outcome instanceof NotPublishedError || !this.deps.lookup) return this.release(keys, token);
      // Kafka failed the records but may have written them (a leader that took them and was lost
      // before it answered, a producer that lost its sequence): releasing the claims now would let
      // the client's retry write them twice. They stay claimed until Kafka is asked.
      batch.settlesWith(this.settleUnknown(attempt, claimed));
      return;
    }
    // Still sending: keep the claims so a retry sees IN_PROGRESS rather than publishing twice,
    // then settle them by what Kafka finally says.
    batch.settlesWith(
      published.then(
        () => this.confirm(keys),
        () => this.release(keys, token),
      ),
    );
  }

  /**
   * Settles the claims of a publish that failed without saying whether it wrote anything: those
   * Kafka has are confirmed (a retry is told DUPLICATE), the others released (a retry publishes).
   * The first look waits a little, so a record its new leader took over is readable; a lookup that
   * cannot tell is tried again every second; after the last, the claims are left to their pending
   * TTL and verified as stale ones (decision 0010).
   */
  private async settleUnknown(attempt: Attempt, claimed: readonly Accepted[]): Promise<void> {
    const lookup = this.deps.lookup!;
    const queries = claimed.map((a) => publishedQuery(a, attempt.batch.tenant));
    for (let i = 0; i < UNKNOWN_OUTCOME_LOOKS; i++) {
      await new Promise((r) => setTimeout(r, UNKNOWN_OUTCOME_LOOK_EVERY_MS));
      let found: Set<string>;
      try {
        found = await lookup.find(queries);
      } catch (err) {
        this.deps.onError?.("verifying a failed publish in Kafka failed (retried)", err);
        continue;
      }
      const written = claimed.filter((a) => found.has(a.key)).map((a) => a.key);
      const absent = claimed.filter((a) => !found.has(a.key)).map((a) => a.key);
      this.deps.observer?.unknownOutcome?.(written.length, absent.length);
      this.confirm(written);
      await this.release(absent, attempt.token);
      return;
    }
  }

  private confirm(keys: string[]): void {
    if (keys.length === 0) return;
    // Kafka has the events: they are acked whatever happens here. A failed confirm is retried
    // until Redis answers (AbandonedClaims), so a retry of the event is not held IN_PROGRESS.
    const elapsed = stopwatch(this.clock);
    this.deps.dedup.confirm(keys).then(
      () => this.deps.observer?.dedup("confirm", elapsed() / 1000),
      (e: unknown) => {
        this.deps.onError?.("dedup confirm failed (retried)", e);
        this.abandonedClaims.confirmLater(keys);
      },
    );
  }

  private async release(keys: string[], token: string): Promise<void> {
    if (keys.length === 0) return;
    // Nothing was published under this token: a release that fails is retried until Redis answers,
    // or the claim would hold every retry of the event IN_PROGRESS for the pending TTL.
    return this.deps.dedup.release(keys, token).catch((e: unknown) => {
      this.deps.onError?.("dedup release failed (retried)", e);
      this.abandonedClaims.add(keys, token);
    });
  }
}

/** Where an accepted event's record would be in Kafka, for a PublishedLookup. */
function publishedQuery(a: Accepted, tenant: string): PublishedQuery {
  return { topic: a.topic, tenant, id: a.env.id, timestampMs: timestampMs(a.env.eventTime!) };
}

/**
 * A failed publish is looked for in Kafka a second after it failed, then every second while Kafka
 * cannot tell (a broker restarting), for about two minutes: its events wait IN_PROGRESS meanwhile,
 * so the look must come soon after Kafka is back, not after a long backoff.
 */
const UNKNOWN_OUTCOME_LOOK_EVERY_MS = 1_000;
const UNKNOWN_OUTCOME_LOOKS = 120;

/** Longest RETRY_AFTER the gateway asks for while another attempt of the event is in flight. */
export const MAX_IN_PROGRESS_RETRY_MS = 2_000;

/**
 * RETRY_AFTER for an event whose id another attempt holds: the older that claim, the longer the
 * wait (a quarter of its age, from the base delay up to MAX_IN_PROGRESS_RETRY_MS), so an event
 * stuck behind a claim is not resent thousands of times a second.
 */
export function inProgressRetryMs(baseMs: number, claimAgeMs: number | undefined): number {
  if (claimAgeMs === undefined) return baseMs;
  return Math.round(Math.min(MAX_IN_PROGRESS_RETRY_MS, Math.max(baseMs, claimAgeMs / 4)));
}
