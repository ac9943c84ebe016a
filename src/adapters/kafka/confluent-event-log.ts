/**
 * The EventLog port on @confluentinc/kafka-javascript (librdkafka), through its node-rdkafka
 * style API: every publish() produces its records into librdkafka at once and settles when the
 * last of their delivery reports arrives (one counter per publish, no promise per record).
 * librdkafka does the batching itself (linger.ms, up to 5 requests in flight per broker with
 * the idempotent producer keeping order), so there is no group commit here.
 *
 * Idempotent producer, acks=all; librdkafka retries a send until `deliveryTimeoutMs`, with the
 * same sequence numbers, so a broker restart delays records and the broker drops the retried
 * duplicates. The package is optional (a native build): it is loaded only when this adapter is.
 */
import { librdkafkaSecurity, type KafkaSecurity } from "./kafka-security.js";
import { NotPublishedError, type EventLog, type OutRecord, type TopicSpec } from "../../ingest/ports.js";
import { StallBreaker, bufferOf, importClientPackage, topicMaxMessageBytes, type AdapterOptions } from "./send-control.js";

export type ConfluentEventLogOptions = AdapterOptions & {
  /** How long librdkafka keeps retrying a record (message.timeout.ms) before failing it. */
  readonly deliveryTimeoutMs: number;
  /** The loaded package; default: imported on connect. (Tests pass a fake.) */
  readonly module?: ConfluentModule;
};

// The few parts of the package this adapter uses (typed here, so type checking does not need the
// optional package installed).
type RdError = Error & { code: number; isFatal?: boolean; isRetriable?: boolean };
type DeliveryReport = { topic: string; partition: number; offset: number; opaque?: unknown };
type RdHeaders = Array<Record<string, string | Buffer>>;
export interface RdProducer {
  connect(metadataOptions: { timeout?: number }, cb: (err: Error | null) => void): void;
  produce(
    topic: string,
    partition: number | null,
    value: Buffer,
    key: string | Buffer | null,
    timestamp: number | null,
    opaque: unknown,
    headers: RdHeaders,
  ): unknown;
  on(event: "delivery-report", listener: (err: RdError | null, report: DeliveryReport) => void): this;
  on(event: "event.error", listener: (err: RdError) => void): this;
  setPollInBackground(set: boolean): this;
  flush(timeoutMs: number, cb: (err: Error | null) => void): this;
  disconnect(timeoutMs: number, cb: (err?: Error | null) => void): void;
}
interface RdAdmin {
  listTopics(options: { timeout?: number }, cb: (err: RdError | null, topics: string[]) => void): void;
  createTopic(
    topic: { topic: string; num_partitions: number; replication_factor: number; config?: Record<string, string> },
    timeoutMs: number,
    cb: (err?: RdError | null) => void,
  ): void;
  disconnect(): void;
}
export type ConfluentModule = {
  RdKafka: {
    Producer: new (conf: Record<string, unknown>, topicConf?: Record<string, unknown>) => RdProducer;
    AdminClient: { create(conf: Record<string, unknown>): RdAdmin };
  };
  librdkafkaVersion?: string;
};

export const confluentPackage = "@confluentinc/kafka-javascript";

/** Loads the package, or fails with WEIR_ERR_CONFIG explaining how to install it. */
export async function loadConfluent(): Promise<ConfluentModule> {
  const mod = await importClientPackage<ConfluentModule & { default?: ConfluentModule }>(
    confluentPackage,
    "confluent",
    "it is an optional native dependency: install with CKJS_LINKING=dynamic npm ci, which needs Debian libssl-dev and zlib1g-dev; .ci/setup does this",
  );
  return mod.RdKafka ? mod : mod.default!;
}

/** ERR_TOPIC_ALREADY_EXISTS */
const topicAlreadyExists = 36;
/** Record-accounting limits are the gateway's admission bound; librdkafka's queue must not refuse first. */
const maxQueuedMessages = 10_000_000;

/** The librdkafka producer settings of the adapter (also used by the raw producer benchmark). */
export function confluentProducerConfig(opts: {
  brokers: readonly string[];
  clientId: string;
  deliveryTimeoutMs: number;
  security?: KafkaSecurity;
}): Record<string, unknown> {
  return {
    ...librdkafkaSecurity(opts.security),
    "bootstrap.servers": opts.brokers.join(","),
    "client.id": opts.clientId,
    "enable.idempotence": true,
    acks: "all",
    "max.in.flight.requests.per.connection": 5,
    "linger.ms": 2,
    // Retry until the delivery timeout, whatever the number of attempts.
    "message.send.max.retries": 2_147_483_647,
    "message.timeout.ms": opts.deliveryTimeoutMs,
    "retry.backoff.ms": 100,
    "retry.backoff.max.ms": 1000,
    "reconnect.backoff.ms": 100,
    "reconnect.backoff.max.ms": 1000,
    // Java's (and kafkajs') partitioner for keyed records, so switching clients keeps keys on their partitions.
    partitioner: "murmur2_random",
    "message.max.bytes": topicMaxMessageBytes,
    "queue.buffering.max.messages": maxQueuedMessages,
    "queue.buffering.max.kbytes": 2_147_483_647,
    "socket.keepalive.enable": true,
    dr_cb: true,
  };
}

/** Creates and connects a producer with the adapter's settings; delivery reports are polled on librdkafka's thread. */
export async function connectConfluentProducer(mod: ConfluentModule, conf: Record<string, unknown>, timeoutMs = 30_000): Promise<RdProducer> {
  const producer = new mod.RdKafka.Producer(conf);
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: timeoutMs }, (err) => (err ? reject(err) : resolve())));
  producer.setPollInBackground(true);
  return producer;
}

/** Record headers in the form the native produce() takes. */
export function rdHeaders(headers: Readonly<Record<string, string>>): RdHeaders {
  const out: RdHeaders = [];
  for (const name in headers) out.push({ [name]: headers[name]! });
  return out;
}

/** One publish() call: settles when each of its records has a delivery report. */
class Delivery {
  failure: Error | undefined;
  constructor(
    public remaining: number,
    readonly breakerId: number,
    readonly done: (delivery: Delivery) => void,
  ) {}
  report(err: Error | null, count = 1): void {
    if (err && !this.failure) this.failure = err;
    this.remaining -= count;
    if (this.remaining === 0) this.done(this);
  }
}

export class ConfluentEventLog implements EventLog {
  private mod: ConfluentModule | undefined;
  private producer: RdProducer | undefined;
  private readonly breaker: StallBreaker;
  private readonly pending = new Map<Delivery, { resolve(): void; reject(err: Error): void }>();
  /** Set by a fatal librdkafka error: the producer is replaced before the next publish. */
  private fatal: Error | undefined;
  private replacing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: ConfluentEventLogOptions) {
    this.breaker = new StallBreaker(opts.stallMs);
    this.mod = opts.module;
  }

  async connect(): Promise<void> {
    this.mod ??= await loadConfluent();
    this.producer = await this.newProducer();
  }

  get healthy(): boolean {
    return !this.fatal && this.breaker.healthy;
  }

  publish(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new NotPublishedError("event log closed"));
    if (!this.producer || this.fatal) {
      const err = new NotPublishedError(this.fatal ? `producer failed: ${this.fatal.message}` : "producer not connected");
      if (this.fatal) void this.replaceProducer();
      const id = this.breaker.start();
      this.breaker.settle(id, false);
      return Promise.reject(err);
    }
    const producer = this.producer;
    return new Promise<void>((resolve, reject) => {
      const delivery = new Delivery(records.length, this.breaker.start(), (d) => this.settle(d));
      this.pending.set(delivery, { resolve, reject });
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        try {
          producer.produce(r.topic, null, bufferOf(r.value), r.key, r.timestampMs ?? null, delivery, rdHeaders(r.headers));
        } catch (err) {
          // Never queued: no delivery report will come for this record or the ones after it. The
          // records before it were queued, so the publish as a whole may still have written some.
          const reason = err instanceof Error ? err.message : String(err);
          delivery.report(i === 0 ? new NotPublishedError(reason) : new Error(reason), records.length - i);
          return;
        }
      }
    });
  }

  private settle(delivery: Delivery): void {
    const waiter = this.pending.get(delivery);
    if (!waiter) return;
    this.pending.delete(delivery);
    this.breaker.settle(delivery.breakerId, !delivery.failure);
    if (delivery.failure) waiter.reject(delivery.failure);
    else waiter.resolve();
  }

  private async newProducer(): Promise<RdProducer> {
    const producer = await connectConfluentProducer(
      this.mod!,
      confluentProducerConfig({
        brokers: this.opts.brokers,
        clientId: this.opts.clientId,
        deliveryTimeoutMs: this.opts.deliveryTimeoutMs,
        ...(this.opts.security ? { security: this.opts.security } : {}),
      }),
    );
    producer.on("delivery-report", (err, report) => {
      if (report.opaque instanceof Delivery) report.opaque.report(err);
    });
    producer.on("event.error", (err) => {
      if (err.isFatal) {
        this.opts.logger.error({ err }, "librdkafka fatal error: the producer will be replaced");
        this.fatal ??= err;
      } else {
        // Transport errors while a broker is away are routine: librdkafka reconnects and retries.
        this.opts.logger.debug({ err }, "librdkafka error");
      }
    });
    return producer;
  }

  /** After a fatal error (e.g. the idempotent producer lost its sequence), start over with a new producer id. */
  private replaceProducer(): Promise<void> {
    this.replacing ??= (async () => {
      const old = this.producer;
      try {
        this.producer = await this.newProducer();
        this.fatal = undefined;
      } catch (err) {
        this.opts.logger.warn({ err }, "replacing the librdkafka producer failed; will try again");
      } finally {
        this.replacing = undefined;
      }
      if (old && old !== this.producer) old.disconnect(1000, () => undefined);
    })();
    return this.replacing;
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    this.mod ??= await loadConfluent();
    const admin = this.mod.RdKafka.AdminClient.create({
      ...librdkafkaSecurity(this.opts.security),
      "bootstrap.servers": this.opts.brokers.join(","),
      "client.id": `${this.opts.clientId}-admin`,
    });
    try {
      const existing = new Set(
        await new Promise<string[]>((resolve, reject) => admin.listTopics({ timeout: 30_000 }, (err, names) => (err ? reject(err) : resolve(names)))),
      );
      const missing = topics.filter((t) => !existing.has(t.topic));
      await Promise.all(
        missing.map(
          (t) =>
            new Promise<void>((resolve, reject) =>
              admin.createTopic(
                {
                  topic: t.topic,
                  num_partitions: t.partitions,
                  replication_factor: this.opts.replicationFactor,
                  config: { "max.message.bytes": String(topicMaxMessageBytes), ...(t.compacted ? { "cleanup.policy": "compact" } : {}) },
                },
                30_000,
                (err) => (err && err.code !== topicAlreadyExists ? reject(err) : resolve()),
              ),
            ),
        ),
      );
    } finally {
      admin.disconnect();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.replacing;
    const producer = this.producer;
    if (producer) {
      // Flush what is queued (the gateway drained its callers first), then disconnect.
      await new Promise<void>((resolve) => producer.flush(10_000, () => resolve()));
      await new Promise<void>((resolve) => producer.disconnect(5000, () => resolve()));
    }
    // Anything still unsettled will not be: fail it rather than leave its caller waiting.
    const err = new Error("event log closed before Kafka acknowledged");
    for (const [delivery, waiter] of this.pending) {
      this.breaker.settle(delivery.breakerId, false);
      waiter.reject(err);
    }
    this.pending.clear();
  }
}
