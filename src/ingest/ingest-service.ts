/**
 * The ingest path, free of sockets: check → admit → dedup claim → publish → confirm.
 * An event is acked only after Kafka acknowledged it; a refused event is nacked only after its
 * dead-letter record is in Kafka; everything else is RETRY_AFTER, with nothing published
 * (see docs/decisions/0003-dedup-claims.md for why a lost event can never turn into a duplicate).
 * A claim its gateway will never settle (stale) is verified against Kafka before anything is
 * published for it (docs/decisions/0010-stale-claims-verified-in-kafka.md).
 */
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { LatencyWindow } from "./latency-window.js";
import { BatchTrace } from "./batch-trace.js";
import { EventResultSchema, ResultCode, type EventResult } from "../gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { WeirError } from "../errors.js";
import type { Admission } from "./admission.js";
import type { EventChecker } from "./check-event.js";
import type { DedupStore, EventLog, IngestObserver, OutRecord, PublishedLookup } from "./ports.js";
import { deadLetterRecord, eventRecord } from "./records.js";

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
  readonly now?: () => number;
  /** Called with failures that are handled (nacked) but worth a log line. */
  readonly onError?: (what: string, err: unknown) => void;
  /** Metrics (optional). */
  readonly observer?: IngestObserver;
};

/** Counts by outcome, for metrics and tests. */
export type IngestStats = Record<"ack" | "duplicate" | "invalid" | "retry", number>;

type Accepted = { readonly index: number; readonly env: Envelope; readonly topic: string; readonly key: string };
type Refused = { readonly index: number; readonly env: Envelope; readonly error: WeirError };
type Stale = { readonly accepted: Accepted; readonly value: string };

export class IngestService {
  private batchCounter = 0;
  private draining = false;
  readonly stats: IngestStats = { ack: 0, duplicate: 0, invalid: 0, retry: 0 };
  /** Batch latency from receipt to results (what a client waits for its acks). */
  readonly latency = new LatencyWindow();

  private checker: EventChecker;

  constructor(
    private readonly deps: IngestDeps,
    private readonly opts: IngestOptions,
  ) {
    this.checker = deps.checker;
  }

  /** Checks the next batches against another schema image (already checked for compatibility). */
  useChecker(checker: EventChecker): void {
    this.checker = checker;
  }

  /** After this, every new event is answered RETRY_AFTER (the client retries on another gateway). */
  drain(): void {
    this.draining = true;
  }

  async publish(tenant: string, events: readonly Envelope[]): Promise<EventResult[]> {
    const started = performance.now();
    let results: EventResult[] = [];
    try {
      results = await this.publishBatch(tenant, events);
      return results;
    } finally {
      const ms = performance.now() - started;
      this.latency.record(ms);
      this.deps.observer?.batch(results, ms / 1000);
    }
  }

  private async publishBatch(tenant: string, events: readonly Envelope[]): Promise<EventResult[]> {
    const { log, admission } = this.deps;
    let bytes = 0;
    for (const env of events) bytes += env.payload.byteLength;

    // Shed before any per-event work: under overload, refusing must stay much cheaper than
    // accepting, or the refusals themselves eat the capacity (see BENCHMARKS.md, overload).
    const shed = this.draining
      ? new WeirError("WEIR_ERR_DRAINING")
      : !log.healthy
        ? new WeirError("WEIR_ERR_KAFKA_UNAVAILABLE", "sends are stalled")
        : !admission.tryAcquire(events.length, bytes)
          ? new WeirError("WEIR_ERR_OVERLOADED")
          : undefined;
    if (shed) return events.map((env) => this.retry(env.id, shed));

    const checker = this.checker;
    const receivedMs = (this.deps.now ?? Date.now)();
    const tracing = BatchTrace.start(events, tenant, receivedMs, this.opts.traceSampleRatio ?? 0);
    const results = new Array<EventResult>(events.length);
    const accepted: Accepted[] = [];
    const refused: Refused[] = [];
    const repeats: Array<[index: number, first: number]> = [];
    const firstIndex = new Map<string, number>();
    // The admission is held until Kafka settles, even when the client stopped waiting:
    // records still in the producer occupy memory.
    let settled: Promise<unknown> = Promise.resolve();
    try {
      const validateStart = Date.now();
      for (let i = 0; i < events.length; i++) {
        const env = events[i]!;
        const first = firstIndex.get(env.id);
        if (first !== undefined) {
          repeats.push([i, first]);
          continue;
        }
        if (env.id) firstIndex.set(env.id, i);
        const checked = checker.check(env, tenant);
        if (checked.ok) accepted.push({ index: i, env, topic: checked.type.topic, key: `${tenant}:${env.id}` });
        else refused.push({ index: i, env, error: checked.error });
      }
      tracing?.phase("validate", validateStart, Date.now());
      ({ settled } = await this.claimAndPublish(tenant, accepted, refused, results, receivedMs, tracing));
    } finally {
      void settled.finally(() => admission.release(events.length, bytes));
    }
    // A repeated id within one batch is published once: the repeat is a DUPLICATE of a
    // published first occurrence, and otherwise shares its fate (INVALID, RETRY_AFTER, ...).
    for (const [index, first] of repeats) {
      const firstResult = results[first]!;
      const published = firstResult.code === ResultCode.ACK || firstResult.code === ResultCode.DUPLICATE;
      results[index] = published ? this.result(events[index]!.id, ResultCode.DUPLICATE) : create(EventResultSchema, { ...firstResult, id: events[index]!.id });
    }
    tracing?.end(results);
    return results;
  }

  /**
   * Fills `results` for accepted and refused events. Resolves when the client can be answered;
   * `settled` resolves when Kafka has settled the records (later, if the publish timed out).
   * With `claimedBy`, `accepted` are already claimed under that token (fresh claims of a batch
   * with stale ones, or claims it took over): they are published without claiming them again.
   */
  private async claimAndPublish(
    tenant: string,
    accepted: Accepted[],
    refused: Refused[],
    results: EventResult[],
    receivedMs: number,
    tracing?: BatchTrace,
    claimedBy?: string,
  ): Promise<{ settled: Promise<unknown> }> {
    const done = { settled: Promise.resolve() };
    const { log, dedup } = this.deps;
    const { gatewayId, deadLetterTopic } = this.opts;
    const token = claimedBy ?? `${gatewayId}/${++this.batchCounter}`;
    const toPublish: Accepted[] = claimedBy === undefined ? [] : accepted;

    if (claimedBy === undefined && accepted.length > 0) {
      const claimStarted = performance.now();
      const claims = dedup.healthy
        ? await dedup.claim(accepted.map((a) => a.key), token).catch((err: unknown) => {
            this.deps.onError?.("dedup claim failed", err);
            return undefined;
          })
        : undefined;
      tracing?.phase("dedup", Date.now() - (performance.now() - claimStarted), Date.now());
      if (claims) this.deps.observer?.dedup("claim", (performance.now() - claimStarted) / 1000);
      if (!claims) {
        const err = new WeirError("WEIR_ERR_DEDUP_UNAVAILABLE", dedup.healthy ? "claim failed" : "not connected");
        for (const a of accepted) results[a.index] = this.retry(a.env.id, err);
      } else {
        let hits = 0;
        let stale: Stale[] | undefined;
        for (let j = 0; j < accepted.length; j++) {
          const a = accepted[j]!;
          const claim = claims[j]!;
          if (claim.kind === "claimed") toPublish.push(a);
          else if (claim.kind === "done") {
            hits++;
            results[a.index] = this.result(a.env.id, ResultCode.DUPLICATE);
          } else if (claim.kind === "stale" && this.deps.lookup) (stale ??= []).push({ accepted: a, value: claim.value });
          else results[a.index] = this.retry(a.env.id, new WeirError("WEIR_ERR_IN_PROGRESS"));
        }
        // Off the hot path: the fresh claims must not wait for the lookup (see publishVerifying).
        if (stale) return this.publishVerifying(tenant, token, toPublish, refused, stale, results, receivedMs, claims.length, hits, tracing);
        this.deps.observer?.dedupLookups(claims.length, hits);
      }
    }

    const records: OutRecord[] = [];
    for (const a of toPublish) records.push(eventRecord(a.topic, tenant, a.env, tracing?.send(a.index, a.topic)));
    for (const r of refused) records.push(deadLetterRecord(deadLetterTopic, tenant, r.env, r.error, gatewayId, receivedMs));
    if (records.length === 0) return done;

    const keys = toPublish.map((a) => a.key);
    const publishStarted = performance.now();
    const published = log.publish(records);
    const observer = this.deps.observer;
    if (tracing) {
      const traced = toPublish.map((a) => a.index);
      published.then(() => tracing.sent(true, undefined, traced), (err: unknown) => tracing.sent(false, String(err), traced));
    }
    if (observer) {
      published.then(
        () => observer.publish(records.length, (performance.now() - publishStarted) / 1000, true),
        () => observer.publish(records.length, (performance.now() - publishStarted) / 1000, false),
      );
    }
    const outcome = await raceTimeout(published, this.opts.publishTimeoutMs);
    if (outcome === "ok") {
      this.ackPublished(toPublish, refused, results);
      this.confirm(keys);
      return done;
    }
    const reason = outcome === "timeout" ? `no ack within ${this.opts.publishTimeoutMs} ms` : outcome.message;
    const nack = new WeirError("WEIR_ERR_KAFKA_UNAVAILABLE", reason);
    for (const a of toPublish) results[a.index] = this.retry(a.env.id, nack);
    for (const r of refused) results[r.index] = this.retry(r.env.id, nack);
    if (outcome !== "timeout") {
      this.deps.onError?.("publish failed", outcome);
      await this.release(keys, token);
      return done;
    }
    // Still sending: keep the claims so a retry sees IN_PROGRESS rather than publishing twice,
    // then settle them by what Kafka finally says.
    const settled = published.then(
      () => this.confirm(keys),
      () => this.release(keys, token),
    );
    return { settled };
  }

  /**
   * A batch with stale claims. Its fresh claims (and dead letters) are published at once, exactly
   * as in a batch without stale claims: held behind a lookup that can take the lookup timeout, a
   * fresh claim could turn stale by age while its record is still on the way, and another gateway
   * would then find nothing and publish it again. Meanwhile the stale claims are verified; those
   * taken over go out in a second publish, which starts right after the compare-and-swap that
   * stamped them with a fresh claim time, so their age when the send settles is bounded by the
   * producer's delivery timeout (below the pending TTL) whatever the lookup took. Resolves when
   * both publishes are answered; `settled` when Kafka has settled both.
   */
  private async publishVerifying(
    tenant: string,
    token: string,
    fresh: Accepted[],
    refused: Refused[],
    stale: Stale[],
    results: EventResult[],
    receivedMs: number,
    claimCount: number,
    hits: number,
    tracing?: BatchTrace,
  ): Promise<{ settled: Promise<unknown> }> {
    const first = this.claimAndPublish(tenant, fresh, refused, results, receivedMs, tracing, token);
    const second = this.verifyStale(tenant, stale, token, results).then(({ found, takenOver }) => {
      this.deps.observer?.dedupLookups(claimCount, hits + found);
      return takenOver.length > 0 ? this.claimAndPublish(tenant, takenOver, [], results, receivedMs, tracing, token) : { settled: Promise.resolve() };
    });
    const [a, b] = await Promise.all([first, second]);
    return { settled: Promise.all([a.settled, b.settled]) };
  }

  /**
   * Settles stale claims (their gateway died, or left them unconfirmed past the pending TTL):
   * events already in Kafka are confirmed and answered DUPLICATE; the others are taken over
   * (compare-and-swap on the stale value, writing this batch's token and a fresh claim time) and
   * returned in batch order, for the caller to publish right away; a take-over lost to another
   * gateway, or a lookup that cannot tell, is answered RETRY_AFTER. Nothing is ever published
   * unverified. `found`: how many were in Kafka.
   */
  private async verifyStale(tenant: string, stale: Stale[], token: string, results: EventResult[]): Promise<{ found: number; takenOver: Accepted[] }> {
    const { lookup, dedup, observer } = this.deps;
    const inProgress = new WeirError("WEIR_ERR_IN_PROGRESS");
    const takenOver: Accepted[] = [];
    let found: Set<string>;
    try {
      found = await lookup!.find(stale.map(({ accepted: a }) => ({ topic: a.topic, tenant, id: a.env.id, timestampMs: timestampMs(a.env.eventTime!) })));
    } catch (err) {
      this.deps.onError?.("verifying stale claims in Kafka failed", err);
      observer?.staleClaims?.("failed", stale.length);
      for (const { accepted: a } of stale) results[a.index] = this.retry(a.env.id, inProgress);
      return { found: 0, takenOver };
    }
    const missing: Stale[] = [];
    const published: string[] = [];
    for (const s of stale) {
      if (!found.has(s.accepted.key)) missing.push(s);
      else {
        published.push(s.accepted.key);
        results[s.accepted.index] = this.result(s.accepted.env.id, ResultCode.DUPLICATE);
      }
    }
    if (published.length > 0) {
      observer?.staleClaims?.("found", published.length);
      this.confirm(published);
    }
    if (missing.length === 0) return { found: published.length, takenOver };

    const taken = await dedup
      .takeOver(
        missing.map((s) => s.accepted.key),
        missing.map((s) => s.value),
        token,
      )
      .catch((err: unknown) => {
        this.deps.onError?.("dedup take-over failed", err);
        return undefined;
      });
    if (!taken) {
      observer?.staleClaims?.("failed", missing.length);
      const err = new WeirError("WEIR_ERR_DEDUP_UNAVAILABLE", "take-over failed");
      for (const { accepted: a } of missing) results[a.index] = this.retry(a.env.id, err);
      return { found: published.length, takenOver };
    }
    missing.forEach((s, i) => {
      if (!taken[i]) results[s.accepted.index] = this.retry(s.accepted.env.id, inProgress);
      else takenOver.push(s.accepted);
    });
    if (takenOver.length > 0) observer?.staleClaims?.("republished", takenOver.length);
    if (takenOver.length < missing.length) observer?.staleClaims?.("lost", missing.length - takenOver.length);
    return { found: published.length, takenOver };
  }

  private ackPublished(toPublish: Accepted[], refused: Refused[], results: EventResult[]): void {
    for (const a of toPublish) results[a.index] = this.result(a.env.id, ResultCode.ACK);
    for (const r of refused) results[r.index] = this.refusal(r.env.id, r.error);
  }

  private confirm(keys: string[]): void {
    if (keys.length === 0) return;
    // Kafka has the events: they are acked whatever happens here. If the confirm is lost the
    // claim expires, and only a client re-sending an acked id could publish it twice.
    const started = performance.now();
    this.deps.dedup.confirm(keys).then(
      () => this.deps.observer?.dedup("confirm", (performance.now() - started) / 1000),
      (e: unknown) => this.deps.onError?.("dedup confirm failed", e),
    );
  }

  private async release(keys: string[], token: string): Promise<void> {
    if (keys.length === 0) return;
    return this.deps.dedup.release(keys, token).catch((e: unknown) => this.deps.onError?.("dedup release failed", e));
  }

  private result(id: string, code: ResultCode): EventResult {
    if (code === ResultCode.ACK) this.stats.ack++;
    else this.stats.duplicate++;
    return create(EventResultSchema, { id, code });
  }

  private refusal(id: string, error: WeirError): EventResult {
    this.stats.invalid++;
    return create(EventResultSchema, { id, code: error.spec.result, errorCode: error.code, reason: error.message });
  }

  private retry(id: string, error: WeirError): EventResult {
    this.stats.retry++;
    return create(EventResultSchema, {
      id,
      code: ResultCode.RETRY_AFTER,
      errorCode: error.code,
      reason: error.message,
      retryAfterMs: this.opts.retryAfterMs,
    });
  }
}

/** Waits for `p` at most `ms`: "ok", the rejection's error, or "timeout" (p keeps running). */
async function raceTimeout(p: Promise<void>, ms: number): Promise<"ok" | "timeout" | Error> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  try {
    return await Promise.race([p.then(() => "ok" as const, (err: unknown) => (err instanceof Error ? err : new Error(String(err)))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
