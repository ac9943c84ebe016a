/**
 * The EventLog port on kafkajs: an idempotent producer (acks=all, one request in flight) fed by
 * a group commit. While one send is in flight, new records accumulate; when it completes, all
 * of them go out in the next send. Batches grow with load and no timer adds latency when idle.
 * The accumulation is bounded by the gateway's admission limit, not here.
 *
 * The producer retries for as long as it takes (kafkajs' idempotent default): its retries carry
 * the same sequence numbers, so the broker discards a retried batch it already wrote. Callers
 * that cannot wait use `healthy` to shed load and a timeout of their own.
 */
import { Kafka, Partitioners, logLevel as kafkaLogLevel, type Admin, type Message, type Producer, type LogEntry } from "kafkajs";
import type { EventLog, OutRecord, TopicSpec } from "../../ingest/ports.js";
import type { Logger } from "../../log.js";

export type KafkajsEventLogOptions = {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly replicationFactor: number;
  /** A send pending longer than this, or one that failed this recently, makes `healthy` false. */
  readonly stallMs: number;
  readonly logger: Logger;
};

/** Values per send; one caller's batch (≤ WEIR_MAX_FRAME_BYTES) may exceed it and goes alone. */
const maxSendBytes = 4 * 1024 * 1024;
/** Record-batch limit of the topics the gateway creates: room for a max-size frame plus headers. */
export const topicMaxMessageBytes = 16 * 1024 * 1024;

type Waiter = { readonly records: readonly OutRecord[]; resolve(): void; reject(err: Error): void };

export function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      if (level <= kafkaLogLevel.ERROR) logger.error({ kafka: extra }, message);
      else if (level === kafkaLogLevel.WARN) logger.warn({ kafka: extra }, message);
      else logger.debug({ kafka: extra }, message);
    };
}

export class KafkajsEventLog implements EventLog {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private waiting: Waiter[] = [];
  private sendStartedAt = 0;
  private sending = false;
  private lastFailureAt = -Infinity;

  constructor(private readonly opts: KafkajsEventLogOptions) {
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      logLevel: kafkaLogLevel.WARN,
      logCreator: kafkaLogCreator(opts.logger),
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 10 },
    });
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Retry forever (each retry at most 1 s apart): a broker restart delays records, never drops them.
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: Number.MAX_SAFE_INTEGER },
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /**
   * A circuit breaker: open while a send is stalled and for stallMs after a failed one; then the
   * next publish probes Kafka again.
   */
  get healthy(): boolean {
    const now = Date.now();
    const stalled = this.sending && now - this.sendStartedAt > this.opts.stallMs;
    return !stalled && now - this.lastFailureAt > this.opts.stallMs;
  }

  publish(records: readonly OutRecord[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ records, resolve, reject });
      if (!this.sending) this.flush();
    });
  }

  private flush(): void {
    if (this.waiting.length === 0) return;
    // One send carries at most maxSendBytes of values (at least one caller's records), so a
    // partition's record batch stays under the topics' max.message.bytes.
    let bytes = 0;
    let take = 0;
    while (take < this.waiting.length && (take === 0 || bytes < maxSendBytes)) {
      for (const r of this.waiting[take]!.records) bytes += r.value.byteLength;
      take++;
    }
    const batch = this.waiting.splice(0, take);
    this.sending = true;
    this.sendStartedAt = Date.now();
    const byTopic = new Map<string, Message[]>();
    for (const w of batch) {
      for (const r of w.records) {
        let messages = byTopic.get(r.topic);
        if (!messages) byTopic.set(r.topic, (messages = []));
        messages.push({
          key: r.key,
          value: Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength),
          headers: r.headers as Record<string, string>,
          ...(r.timestampMs !== undefined ? { timestamp: String(r.timestampMs) } : {}),
        });
      }
    }
    this.producer
      .sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })
      .then(
        () => batch.forEach((w) => w.resolve()),
        (err: Error) => {
          this.lastFailureAt = Date.now();
          batch.forEach((w) => w.reject(err));
        },
      )
      .finally(() => {
        this.sending = false;
        this.flush();
      });
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length === 0) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          replicationFactor: this.opts.replicationFactor,
          configEntries: [
            { name: "max.message.bytes", value: String(topicMaxMessageBytes) },
            ...(t.compacted ? [{ name: "cleanup.policy", value: "compact" }] : []),
          ],
        })),
      });
    } finally {
      await admin.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
