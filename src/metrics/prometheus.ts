/**
 * Weir's Prometheus metrics (prom-client), one registry per gateway or processor process. Events
 * are counted where they happen (IngestObserver, ProcessorObserver); levels (in flight, credit,
 * subscribers, lag) are read when Prometheus scrapes, from the `gauges` callbacks, so nothing is
 * kept twice. Names follow Prometheus conventions: `_total` counters, `_seconds` histograms.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ResultCode, type EventResult } from "../gen/weir/v1/protocol_pb.js";
import type { IngestObserver, StaleOutcome } from "../ingest/ports.js";

/** Processor events, reported by each job's Processor. */
export interface ProcessorObserver {
  /** A task step committed: input records, outputs by stream, and how long the transaction took. */
  committed(job: string, records: number, outputs: ReadonlyMap<string, number>, seconds: number): void;
  /** The consumer's lag on an input partition, as of its last fetch. */
  lag(job: string, partition: number, lag: number): void;
}

/** Levels read at scrape time. */
export type GaugeSources = {
  inFlightEvents(): number;
  inFlightBytes(): number;
  /** Credit granted to ingest connections and not yet spent. */
  outstandingCredit(): number;
  connections(): { ingest: number; subscribe: number };
  /** Per stream: subscribers and the deliveries they have waiting (sum and max). */
  subscribers(): ReadonlyMap<string, { count: number; pending: number; maxPending: number }>;
};

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RESULT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ResultCode)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v, k.toLowerCase()]),
);
const REFUSED = new Set([ResultCode.INVALID, ResultCode.UNKNOWN_TYPE, ResultCode.TOO_LARGE, ResultCode.UNAUTHORIZED]);

export class WeirMetrics implements IngestObserver, ProcessorObserver {
  readonly registry = new Registry();
  private readonly events = new Counter({
    name: "weir_ingest_events_total",
    help: "Events answered, by result and error code.",
    labelNames: ["result", "code"],
    registers: [this.registry],
  });
  private readonly batchSeconds = new Histogram({
    name: "weir_ingest_batch_seconds",
    help: "Time from a batch's receipt to its results (what a client waits for its acks).",
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly deadLetters = new Counter({
    name: "weir_dead_letters_total",
    help: "Events refused into the dead-letter topic, by error code.",
    labelNames: ["code"],
    registers: [this.registry],
  });
  private readonly publishSeconds = new Histogram({
    name: "weir_kafka_publish_seconds",
    help: "Kafka produce latency of one batch (acks=all).",
    labelNames: ["outcome"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly publishedRecords = new Counter({
    name: "weir_kafka_published_records_total",
    help: "Records sent to Kafka, by outcome.",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  private readonly redisSeconds = new Histogram({
    name: "weir_redis_seconds",
    help: "Dedup store round trips to Redis.",
    labelNames: ["op"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly dedupLookupsTotal = new Counter({
    name: "weir_dedup_lookups_total",
    help: "Event ids looked up in the dedup store.",
    registers: [this.registry],
  });
  private readonly dedupHits = new Counter({
    name: "weir_dedup_hits_total",
    help: "Event ids found already published (duplicates dropped).",
    registers: [this.registry],
  });
  private readonly refusalsTotal = new Counter({
    name: "weir_security_refusals_total",
    help: "Refusals a client caused, by Weir error code: failed authentication (WEIR_ERR_UNAUTHORIZED, WEIR_ERR_BAD_TOKEN), permission denials (WEIR_ERR_FORBIDDEN_*), protocol violations (WEIR_ERR_BAD_FRAME, ...). Each is also logged at warn with the peer address, at most once per code per 10 s.",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  private readonly unknownOutcomeTotal = new Counter({
    name: "weir_publish_unknown_outcome_events_total",
    help: "Events of a failed Kafka publish that were looked for in Kafka before their claims were let go, by what was found (written: confirmed, a retry is a DUPLICATE; absent: released).",
    labelNames: ["found"] as const,
    registers: [this.registry],
  });
  private readonly staleClaimsTotal = new Counter({
    name: "weir_dedup_stale_claims_total",
    help: "Stale dedup claims (orphaned or unconfirmed) verified against Kafka, by outcome: found (DUPLICATE), republished, lost (another gateway took over), failed (RETRY_AFTER).",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  private readonly processorRecords = new Counter({
    name: "weir_processor_records_total",
    help: "Input records processed and committed, by job.",
    labelNames: ["job"],
    registers: [this.registry],
  });
  private readonly processorOutputs = new Counter({
    name: "weir_processor_outputs_total",
    help: "Outputs committed, by job and stream (results, late, alerts, breaches, risk, rejected).",
    labelNames: ["job", "stream"],
    registers: [this.registry],
  });
  private readonly commitSeconds = new Histogram({
    name: "weir_processor_commit_seconds",
    help: "Processing plus the Kafka transaction of one step.",
    labelNames: ["job"],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly consumerLag = new Gauge({
    name: "weir_consumer_lag",
    help: "Records behind the end of an input partition, as of the last fetch.",
    labelNames: ["job", "partition"],
    registers: [this.registry],
  });
  /** Event time to delivery to a subscriber. */
  readonly deliveryLatency = new Histogram({
    name: "weir_delivery_latency_seconds",
    help: "From an event's time to its delivery to a subscriber, by stream.",
    labelNames: ["stream"],
    buckets: [...LATENCY_BUCKETS, 30, 60, 300],
    registers: [this.registry],
  });

  /** Per-stream children of deliveryLatency: observed per delivery and subscriber, so kept cheap. */
  private readonly deliveryByStream = new Map<string, { observe(v: number): void }>();

  observeDelivery(stream: string, seconds: number): void {
    let child = this.deliveryByStream.get(stream);
    if (!child) this.deliveryByStream.set(stream, (child = this.deliveryLatency.labels({ stream })));
    child.observe(seconds);
  }

  constructor(gauges?: GaugeSources) {
    collectDefaultMetrics({ register: this.registry, prefix: "weir_process_" });
    if (gauges) this.levels(gauges);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  batch(results: readonly EventResult[], seconds: number): void {
    this.batchSeconds.observe(seconds);
    for (const r of results) {
      this.events.inc({ result: RESULT_NAMES[r.code] ?? String(r.code), code: r.errorCode });
      if (REFUSED.has(r.code)) this.deadLetters.inc({ code: r.errorCode });
    }
  }

  publish(records: number, seconds: number, ok: boolean): void {
    const outcome = ok ? "ok" : "failed";
    this.publishSeconds.observe({ outcome }, seconds);
    this.publishedRecords.inc({ outcome }, records);
  }

  dedup(op: "claim" | "confirm" | "release", seconds: number): void {
    this.redisSeconds.observe({ op }, seconds);
  }

  dedupLookups(keys: number, hits: number): void {
    this.dedupLookupsTotal.inc(keys);
    if (hits > 0) this.dedupHits.inc(hits);
  }

  /** One refusal of the security audit trail. */
  refused(code: string): void {
    this.refusalsTotal.inc({ code });
  }

  unknownOutcome(written: number, absent: number): void {
    if (written > 0) this.unknownOutcomeTotal.inc({ found: "written" }, written);
    if (absent > 0) this.unknownOutcomeTotal.inc({ found: "absent" }, absent);
  }

  staleClaims(outcome: StaleOutcome, count: number): void {
    this.staleClaimsTotal.inc({ outcome }, count);
  }

  committed(job: string, records: number, outputs: ReadonlyMap<string, number>, seconds: number): void {
    if (records > 0) this.processorRecords.inc({ job }, records);
    for (const [stream, n] of outputs) this.processorOutputs.inc({ job, stream }, n);
    this.commitSeconds.observe({ job }, seconds);
  }

  lag(job: string, partition: number, lag: number): void {
    this.consumerLag.set({ job, partition: String(partition) }, lag);
  }

  private levels(g: GaugeSources): void {
    const registers = [this.registry];
    new Gauge({
      name: "weir_ingest_in_flight_events",
      help: "Events admitted and not yet answered.",
      registers,
      collect() {
        this.set(g.inFlightEvents());
      },
    });
    new Gauge({
      name: "weir_ingest_in_flight_bytes",
      help: "Payload bytes admitted and not yet settled.",
      registers,
      collect() {
        this.set(g.inFlightBytes());
      },
    });
    new Gauge({
      name: "weir_ingest_credit_outstanding",
      help: "Credit granted to ingest connections and not spent.",
      registers,
      collect() {
        this.set(g.outstandingCredit());
      },
    });
    new Gauge({
      name: "weir_connections",
      help: "Open WebSocket connections, by endpoint.",
      labelNames: ["endpoint"],
      registers,
      collect() {
        const c = g.connections();
        this.set({ endpoint: "ingest" }, c.ingest);
        this.set({ endpoint: "subscribe" }, c.subscribe);
      },
    });
    const perStream = (name: string, help: string, pick: (s: { count: number; pending: number; maxPending: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["stream"],
        registers,
        collect() {
          this.reset();
          for (const [stream, s] of g.subscribers()) this.set({ stream }, pick(s));
        },
      });
    perStream("weir_subscribers", "Subscribers, by stream.", (s) => s.count);
    perStream("weir_subscriber_pending", "Deliveries waiting for slow subscribers (sum), by stream.", (s) => s.pending);
    perStream("weir_subscriber_pending_max", "Deliveries waiting for the slowest subscriber, by stream.", (s) => s.maxPending);
  }
}
