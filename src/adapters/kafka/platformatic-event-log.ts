/**
 * The EventLog port on @platformatic/kafka (pure TypeScript): an idempotent producer (acks=all)
 * fed by a group commit, as in the kafkajs adapter. The client keeps its sequence numbers per
 * partition and advances them only when a send is acknowledged, so two sends must never be in
 * flight together: one send goes out, records published meanwhile go in the next one.
 *
 * Retries: the client retries a failed produce (and the metadata it needs) with the same
 * sequence numbers, `retryDelayMs` apart, for about `deliveryTimeoutMs`; a broker restart
 * delays records and the broker drops a retried batch it already wrote. Its default for an
 * idempotent producer is to retry forever, so a send to a dead broker would never settle; a
 * bounded budget lets the send fail before the gateway's dedup claims expire.
 *
 * After a send fails, the producer takes a new producer id before the next one: the failed
 * batch may have been written, and reusing its sequence numbers for other records would make
 * the broker drop those as duplicates.
 */
import { platformaticSecurity, type KafkaSecurity } from "./kafka-security.js";
import type { Admin, Producer, ProducerOptions } from "@platformatic/kafka";
import type { EventLog, OutRecord, TopicSpec } from "../../ingest/ports.js";
import { GroupCommit, StallBreaker, bufferOf, importClientPackage, maxSendBytes, topicMaxMessageBytes, type AdapterOptions } from "./send-control.js";

export type PlatformaticEventLogOptions = AdapterOptions & {
  /** About how long a send is retried before it fails. */
  readonly deliveryTimeoutMs: number;
  /** The loaded package; default: imported on connect. (Tests pass a fake.) */
  readonly module?: PlatformaticModule;
};

export type PlatformaticModule = typeof import("@platformatic/kafka");
export type PlatformaticProducer = Producer<string, Buffer, string, string>;
export type PlatformaticMessage = { topic: string; key: string; value: Buffer; headers: Record<string, string>; timestamp?: bigint };

export const platformaticPackage = "@platformatic/kafka";
const retryDelayMs = 250;
/** TOPIC_ALREADY_EXISTS */
const topicAlreadyExists = 36;

export function loadPlatformatic(): Promise<PlatformaticModule> {
  return importClientPackage<PlatformaticModule>(platformaticPackage, "platformatic", "npm ci installs it");
}

const toBuffer = (s?: string) => (s === undefined ? undefined : Buffer.from(s));

/** The producer settings of the adapter (also used by the raw producer benchmark). */
export function platformaticProducerOptions(
  mod: PlatformaticModule,
  opts: { brokers: readonly string[]; clientId: string; deliveryTimeoutMs: number; security?: KafkaSecurity },
): ProducerOptions<string, Buffer, string, string> {
  return {
    ...platformaticSecurity(opts.security),
    clientId: opts.clientId,
    bootstrapBrokers: [...opts.brokers],
    idempotent: true,
    acks: -1,
    // Each attempt against a dead broker fails fast (connection refused), so attempts ≈ time / delay.
    retries: Math.max(1, Math.ceil(opts.deliveryTimeoutMs / retryDelayMs)),
    retryDelay: retryDelayMs,
    connectTimeout: 2000,
    timeout: 10_000,
    // Java's (and kafkajs') partitioner for keyed records, so switching clients keeps keys on their partitions.
    partitioner: mod.compatibilityPartitioner,
    serializers: { key: toBuffer, value: (v?: Buffer) => v, headerKey: toBuffer, headerValue: toBuffer },
  };
}

export function platformaticMessages(records: readonly OutRecord[]): PlatformaticMessage[] {
  return records.map((r) => {
    const message: PlatformaticMessage = { topic: r.topic, key: r.key, value: bufferOf(r.value), headers: r.headers };
    if (r.timestampMs !== undefined) message.timestamp = BigInt(r.timestampMs);
    return message;
  });
}

/** Closes the producer even while a send is retrying (that send then fails). */
export function closeProducer(producer: PlatformaticProducer): Promise<void> {
  return new Promise((resolve, reject) => producer.close(true, (err) => (err ? reject(err) : resolve())));
}

/** Waits until every partition of `topics` has a leader (a new topic's first send needs one). */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const metadata = await admin.metadata({ topics, forceUpdate: true });
    const ready = topics.every((name) => {
      const topic = metadata.topics.get(name);
      return topic !== undefined && topic.partitions.length === topic.partitionsCount && topic.partitions.every((p) => p.leader >= 0);
    });
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`no leaders for ${topics.join(", ")} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class PlatformaticEventLog implements EventLog {
  private mod: PlatformaticModule | undefined;
  private producer: PlatformaticProducer | undefined;
  private readonly breaker: StallBreaker;
  private readonly commit: GroupCommit;
  private needsNewProducerId = false;

  constructor(private readonly opts: PlatformaticEventLogOptions) {
    this.mod = opts.module;
    this.breaker = new StallBreaker(opts.stallMs);
    this.commit = new GroupCommit((records) => this.send(records), this.breaker, maxSendBytes);
  }

  async connect(): Promise<void> {
    this.mod ??= await loadPlatformatic();
    this.producer = new this.mod.Producer(platformaticProducerOptions(this.mod, this.opts));
    // Get a producer id now, so a broker that is not reachable shows at boot, as with the other clients.
    await this.producer.initIdempotentProducer({});
  }

  get healthy(): boolean {
    return this.breaker.healthy;
  }

  publish(records: readonly OutRecord[]): Promise<void> {
    return this.commit.publish(records);
  }

  private async send(records: readonly OutRecord[]): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new Error("producer not connected");
    if (this.needsNewProducerId) {
      await producer.initIdempotentProducer({});
      this.needsNewProducerId = false;
    }
    try {
      await producer.send({ messages: platformaticMessages(records) });
    } catch (err) {
      this.needsNewProducerId = true;
      throw err;
    }
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    this.mod ??= await loadPlatformatic();
    const admin: Admin = new this.mod.Admin({
      ...platformaticSecurity(this.opts.security),
      clientId: `${this.opts.clientId}-admin`,
      bootstrapBrokers: [...this.opts.brokers],
      retries: 20,
      retryDelay: retryDelayMs,
    });
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      for (const t of missing) {
        try {
          await admin.createTopics({
            topics: [t.topic],
            partitions: t.partitions,
            replicas: this.opts.replicationFactor,
            configs: [
              { name: "max.message.bytes", value: String(topicMaxMessageBytes) },
              ...(t.compacted ? [{ name: "cleanup.policy", value: "compact" }] : []),
            ],
          });
        } catch (err) {
          // Another gateway may have created it meanwhile.
          if (!(err as { findBy?: (k: string, v: unknown) => unknown }).findBy?.("apiCode", topicAlreadyExists)) throw err;
        }
      }
      if (missing.length > 0)
        await waitForLeaders(
          admin,
          missing.map((t) => t.topic),
        );
    } finally {
      await admin.close();
    }
  }

  async close(): Promise<void> {
    this.commit.rejectWaiting(new Error("event log closed before Kafka acknowledged"));
    if (this.producer) await closeProducer(this.producer);
  }
}
