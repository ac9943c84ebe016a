/**
 * The EventLog port on kafkajs: an idempotent producer (acks=all, one request in flight) fed by
 * the shared group commit (send-control.ts). kafkajs assigns sequence numbers when it builds a
 * request and advances them only on success, so only one send may be in flight.
 *
 * Retries: the producer retries a send for as long as it takes (kafkajs' idempotent default),
 * with the same sequence numbers, so the broker discards a retried batch it already wrote; a
 * broker restart delays records, never drops them. Some failures still surface (a connection
 * refused while refreshing metadata); after one, the producer is replaced before the next send:
 * the failed batch may have been written, and kafkajs would reuse its sequence numbers for other
 * records, which the broker would then drop as duplicates or refuse as out of order forever.
 */
import { kafkajsSecurity } from "./kafka-security.js";
import { Kafka, Partitioners, logLevel as kafkaLogLevel, type Message, type Producer } from "kafkajs";
import type { EventLog, OutRecord, TopicSpec } from "../../ingest/ports.js";
import { ensureTopicsWithKafkajs } from "./kafkajs-topics.js";
import { kafkaLogCreator } from "./kafkajs-logs.js";
import { GroupCommit, StallBreaker, bufferOf, maxSendBytes, type AdapterOptions } from "./send-control.js";

export type KafkajsEventLogOptions = AdapterOptions;

function toMessage(r: OutRecord): Message {
  return {
    key: r.key,
    value: bufferOf(r.value),
    headers: r.headers,
    ...(r.timestampMs !== undefined ? { timestamp: String(r.timestampMs) } : {}),
  };
}

export class KafkajsEventLog implements EventLog {
  private readonly kafka: Kafka;
  private producer: Producer;
  private replaceProducer = false;
  private readonly breaker: StallBreaker;
  private readonly commits: GroupCommit;

  constructor(private readonly opts: KafkajsEventLogOptions) {
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      logLevel: kafkaLogLevel.WARN,
      logCreator: kafkaLogCreator(opts.logger),
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 10 },
      ...kafkajsSecurity(opts.security),
    });
    this.producer = this.newProducer();
    this.breaker = new StallBreaker(opts.stallMs);
    this.commits = new GroupCommit((records) => this.send(records), this.breaker, maxSendBytes);
  }

  private newProducer(): Producer {
    return this.kafka.producer({
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

  get healthy(): boolean {
    return this.breaker.healthy;
  }

  publish(records: readonly OutRecord[]): Promise<void> {
    return this.commits.publish(records);
  }

  private async send(records: readonly OutRecord[]): Promise<void> {
    if (this.replaceProducer) {
      // A fresh producer id: the broker keeps no sequence history for it.
      await this.producer.disconnect().catch(() => {});
      this.producer = this.newProducer();
      await this.producer.connect();
      this.replaceProducer = false;
    }
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      let messages = byTopic.get(r.topic);
      if (!messages) byTopic.set(r.topic, (messages = []));
      messages.push(toMessage(r));
    }
    try {
      await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    } catch (err) {
      this.replaceProducer = true;
      throw err;
    }
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    await ensureTopicsWithKafkajs(this.kafka, topics, { replicationFactor: this.opts.replicationFactor });
  }

  async close(): Promise<void> {
    this.commits.rejectWaiting(new Error("event log closed"));
    await this.producer.disconnect();
  }
}
