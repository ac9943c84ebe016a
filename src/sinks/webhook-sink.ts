/**
 * The webhook sink: reads alerts from Kafka (read_committed, so alerts of aborted processor
 * transactions are never sent) and delivers each one to an HTTP webhook.
 *
 * Delivery is at least once with a stable idempotency key, so effectively once at a receiver that
 * honours it: a record's offset is committed right after its delivery, before the next record of
 * that partition, so a crash or close re-sends at most the one alert in flight per partition.
 * Partitions run concurrently, records inside one partition strictly in order.
 *
 * Nothing is dropped silently: an alert the receiver refuses (non-retryable 4xx) and a record that
 * is not an AlertRecord are copied, with the reason, to the refused topic and logged, then committed.
 */
import { kafkajsSecurity, type KafkaSecurity } from "../adapters/kafka/kafka-security.js";
import { Kafka, logLevel, type Consumer, type EachMessagePayload, type IHeaders, type Producer } from "kafkajs";
import { ensureTopicsWithKafkajs } from "../adapters/kafka/kafkajs-topics.js";
import { ALERTS_TOPIC, ALERTS_TOPIC_PARTITIONS, REFUSED_ALERTS_TOPIC, headers as recordHeaders, type AlertRecord } from "../kafka-contract.js";
import { deliverAlert, type DeliveryOptions, type DeliveryResult } from "./webhook-delivery.js";

export type WebhookSinkOptions = {
  brokers: readonly string[];
  /** How its consumer reaches the brokers (TLS, SASL); default plaintext. */
  security?: KafkaSecurity;
  /** The webhook endpoint. */
  url: string;
  /** Extra request headers, e.g. Authorization. */
  headers?: Readonly<Record<string, string>>;
  groupId?: string;
  topic?: string;
  refusedTopic?: string;
  /** Partitions when the sink has to create the topics itself (default ALERTS_TOPIC_PARTITIONS). */
  partitions?: number;
  partitionsConsumedConcurrently?: number;
  /** Timeout and backoff of each delivery (see deliverAlert). */
  delivery?: Pick<DeliveryOptions, "timeoutMs" | "baseDelayMs" | "maxDelayMs" | "sleep" | "random">;
  log?: (line: string) => void;
};

export type WebhookSinkStats = { delivered: number; retries: number; refused: number };

export class WebhookSink {
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly refusedTopic: string;
  private readonly log: (line: string) => void;
  private readonly shutdown = new AbortController();
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private closed = false;
  private readonly counters: WebhookSinkStats = { delivered: 0, retries: 0, refused: 0 };

  constructor(private readonly opts: WebhookSinkOptions) {
    new URL(opts.url); // fail at construction, not as an endless retry
    this.topic = opts.topic ?? ALERTS_TOPIC;
    this.refusedTopic = opts.refusedTopic ?? REFUSED_ALERTS_TOPIC;
    this.log = opts.log ?? (() => {});
    this.kafka = new Kafka({ brokers: [...opts.brokers], clientId: "weir-webhook", logLevel: logLevel.NOTHING, ...kafkajsSecurity(opts.security) });
  }

  stats(): WebhookSinkStats {
    return { ...this.counters };
  }

  async start(): Promise<void> {
    await this.ensureTopics();
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.consumer = this.kafka.consumer({ groupId: this.opts.groupId ?? "weir-webhook", readUncommitted: false });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 4,
      eachMessage: (payload) => this.handle(payload),
    });
  }

  /** Stops: in-flight deliveries are cut (and not committed, so the next owner re-sends them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Abort first: disconnect waits for the running handlers, which would otherwise retry forever.
    this.shutdown.abort(new Error("webhook sink closing"));
    await this.consumer?.disconnect().catch(() => {});
    await this.producer?.disconnect().catch(() => {});
  }

  private async handle(payload: EachMessagePayload): Promise<void> {
    const { topic, partition, message } = payload;
    if (this.closed) return;
    const parsed = parseAlert(message.value);
    const source = { topic, partition, offset: message.offset };
    if (typeof parsed === "string") {
      await this.refuse(message.key, message.value, { reason: parsed }, source);
      this.log(`malformed record ${topic}/${partition}@${message.offset}: ${parsed}; copied to ${this.refusedTopic}`);
    } else {
      // A delivery may retry for minutes: keep heartbeating so the group does not evict this member,
      // and give the partition up (abort, rethrow so kafkajs rejoins) if a rebalance starts.
      const rebalance = new AbortController();
      const beat = setInterval(() => void payload.heartbeat().catch((err: unknown) => isGroupChange(err) && rebalance.abort(err)), 1000);
      let result: DeliveryResult;
      try {
        result = await deliverAlert(parsed, {
          ...this.opts.delivery,
          url: this.opts.url,
          headers: this.opts.headers,
          signal: AbortSignal.any([this.shutdown.signal, rebalance.signal]),
          onRetry: ({ attempt, delayMs, reason }) => {
            this.counters.retries++;
            this.log(`alert ${parsed.alertId}: attempt ${attempt} failed (${reason}), retrying in ${delayMs} ms`);
          },
        });
      } catch (err) {
        // Closing: return without committing; kafkajs stops before the next record.
        if (this.shutdown.signal.aborted) return;
        throw rebalance.signal.aborted ? rebalance.signal.reason : err;
      } finally {
        clearInterval(beat);
      }
      if (result.outcome === "refused") {
        await this.refuse(message.key, message.value, { reason: "refused by the webhook", status: result.status, body: result.body }, source);
        this.log(`alert ${parsed.alertId} refused by the webhook: HTTP ${result.status} ${result.body.slice(0, 200)}; copied to ${this.refusedTopic}`);
      } else {
        this.counters.delivered++;
      }
    }
    // Committed before the next record: a crash from here on re-sends only this one alert.
    await this.consumer!.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
  }

  /** Copies the record as it was to the refused topic; why is in the headers. */
  private async refuse(
    key: Buffer | null,
    value: Buffer | null,
    why: { reason: string; status?: number; body?: string },
    source: { topic: string; partition: number; offset: string },
  ): Promise<void> {
    const headers: IHeaders = {
      [recordHeaders.refusedReason]: why.reason,
      [recordHeaders.sourceTopic]: source.topic,
      [recordHeaders.sourcePartition]: String(source.partition),
      [recordHeaders.sourceOffset]: source.offset,
    };
    if (why.status !== undefined) headers[recordHeaders.refusedStatus] = String(why.status);
    if (why.body !== undefined) headers[recordHeaders.refusedBody] = why.body;
    await this.producer!.send({ topic: this.refusedTopic, acks: -1, messages: [{ key, value, headers }] });
    this.counters.refused++;
  }

  private async ensureTopics(): Promise<void> {
    const partitions = this.opts.partitions ?? ALERTS_TOPIC_PARTITIONS;
    await ensureTopicsWithKafkajs(
      this.kafka,
      [this.topic, this.refusedTopic].map((topic) => ({ topic, partitions })),
    );
  }
}

/** kafkajs errors saying this member must rejoin (its partitions may be moving elsewhere). */
function isGroupChange(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return type === "REBALANCE_IN_PROGRESS" || type === "ILLEGAL_GENERATION" || type === "UNKNOWN_MEMBER_ID" || type === "NOT_COORDINATOR_FOR_GROUP";
}

/** The AlertRecord in a record's value, or why it is not one. */
export function parseAlert(value: Buffer | null): AlertRecord | string {
  if (value === null) return "record has no value";
  let v: unknown;
  try {
    v = JSON.parse(value.toString("utf8"));
  } catch (err) {
    return `value is not JSON: ${(err as Error).message}`;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "value is not a JSON object";
  const r = v as Record<string, unknown>;
  for (const field of ["alertId", "job", "kind", "key", "summary"]) {
    if (typeof r[field] !== "string") return `${field} is not a string`;
  }
  if (r.alertId === "") return "alertId is empty";
  if (typeof r.atMs !== "number" || !Number.isFinite(r.atMs)) return "atMs is not a finite number";
  return r as AlertRecord;
}
