/**
 * The raw producer rate of a Kafka client library, for the benchmark to put the gateway's rate
 * next to: pre-built records sent in batches of `batch` by the very producer configuration the
 * EventLog adapter of that client uses (idempotent, acks=all, same retries and partitioner),
 * without the gateway (no WebSocket, validation, dedup or group commit).
 *
 * Each client is driven the way its adapter drives it:
 * - kafkajs, platformatic: one send in flight (the idempotent producer's sequence numbers allow
 *   no more in these clients), each send one batch;
 * - confluent: batches produced back to back into librdkafka (it batches and pipelines itself),
 *   at most `confluentWindow` batches awaiting their delivery reports.
 *
 * Records carry a key, a timestamp and the headers the gateway writes (weir.id, weir.tenant,
 * weir.type), so the per-record cost matches the gateway's; `mbPerSec` counts values only (MB = 10^6 bytes).
 * Self-contained: creates the topic if missing (with the adapter's ensureTopics) and closes what it opened.
 */
import { randomBytes } from "node:crypto";
import type { Producer as KafkajsProducer } from "kafkajs";
import type { OutRecord } from "../../src/ingest/ports.js";
import { silentLogger } from "../../src/log.js";
import { settings } from "../../src/config.js";
import { createEventLog, deliveryTimeoutMs, type KafkaClient } from "../../src/adapters/kafka/create-event-log.js";
import { bufferOf } from "../../src/adapters/kafka/send-control.js";
import { headers } from "../../src/kafka-contract.js";

export type RawProducerOptions = {
  brokers: string;
  topic: string;
  /** Value bytes of each record. */
  recordBytes: number;
  records: number;
  /** Records per send. */
  batch: number;
  /** Partitions of the topic if it has to be created (default 6). */
  partitions?: number;
};

export type RawProducerRate = { recordsPerSec: number; mbPerSec: number };

/** Batches awaiting delivery reports at once for librdkafka. */
const confluentWindow = 16;

type Sender = { send(batch: readonly OutRecord[]): Promise<void>; sequential: boolean; close(): Promise<void> };

export async function rawProducerRate(client: KafkaClient, opts: RawProducerOptions): Promise<RawProducerRate> {
  if (!(opts.records > 0 && opts.batch > 0 && opts.recordBytes >= 0)) throw new Error("rawProducerRate: records and batch must be > 0");
  const brokers = opts.brokers
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  const clientId = `weir-bench-${client}`;
  const delivery = deliveryTimeoutMs(settings.kafkaPublishTimeoutMs.default, settings.dedupPendingTtlMs.default);

  // The adapter creates the topic exactly as the gateway would.
  const admin = await createEventLog({
    client,
    brokers,
    clientId,
    replicationFactor: 1,
    stallMs: settings.kafkaStallMs.default,
    publishTimeoutMs: settings.kafkaPublishTimeoutMs.default,
    dedupPendingTtlMs: settings.dedupPendingTtlMs.default,
    logger: silentLogger,
  });
  await admin.ensureTopics([{ topic: opts.topic, partitions: opts.partitions ?? 6 }]);

  const batches = buildBatches(opts);
  const sender = await openSender(client, brokers, clientId, delivery, admin);
  try {
    // Warm up: connections, metadata and the producer id are not part of the rate.
    await sender.send(batches[0]!.slice(0, 1));
    const started = process.hrtime.bigint();
    if (sender.sequential) {
      for (const b of batches) await sender.send(b);
    } else {
      let next = 0;
      const lane = async () => {
        while (next < batches.length) await sender.send(batches[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(confluentWindow, batches.length) }, lane));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { recordsPerSec: opts.records / seconds, mbPerSec: (opts.records * opts.recordBytes) / seconds / 1e6 };
  } finally {
    await sender.close();
  }
}

function buildBatches(opts: RawProducerOptions): OutRecord[][] {
  const value = randomBytes(opts.recordBytes);
  const now = Date.now();
  const batches: OutRecord[][] = [];
  for (let i = 0; i < opts.records; i += opts.batch) {
    const batch: OutRecord[] = [];
    for (let j = i; j < Math.min(i + opts.batch, opts.records); j++) {
      batch.push({
        topic: opts.topic,
        key: `bench-${j}`,
        // One Buffer per record, as the gateway has one per event.
        value: Buffer.from(value),
        headers: { [headers.id]: `bench-${j}`, [headers.tenant]: "bench", [headers.type]: "weir.bench.v1.Raw" },
        timestampMs: now,
      });
    }
    batches.push(batch);
  }
  return batches;
}

async function openSender(
  client: KafkaClient,
  brokers: string[],
  clientId: string,
  delivery: number,
  adapter: Awaited<ReturnType<typeof createEventLog>>,
): Promise<Sender> {
  switch (client) {
    case "kafkajs": {
      // The adapter's own producer: its settings live in its constructor.
      await adapter.connect();
      const producer = (adapter as unknown as { producer?: KafkajsProducer }).producer;
      if (!producer || typeof producer.sendBatch !== "function") throw new Error("rawProducerRate: the kafkajs adapter has no producer field any more");
      return {
        sequential: true,
        send: async (batch) => {
          await producer.sendBatch({
            acks: -1,
            topicMessages: [
              {
                topic: batch[0]!.topic,
                messages: batch.map((r) => ({
                  key: r.key,
                  value: bufferOf(r.value),
                  headers: r.headers,
                  timestamp: String(r.timestampMs),
                })),
              },
            ],
          });
        },
        close: () => adapter.close(),
      };
    }
    case "confluent": {
      await adapter.close();
      const { loadConfluent, confluentProducerConfig, connectConfluentProducer, rdHeaders } = await import("../../src/adapters/kafka/confluent-event-log.js");
      const mod = await loadConfluent();
      const producer = await connectConfluentProducer(mod, confluentProducerConfig({ brokers, clientId, deliveryTimeoutMs: delivery }));
      type Batch = { remaining: number; failure?: Error; resolve(): void; reject(err: Error): void };
      producer.on("delivery-report", (err, report) => {
        const b = report.opaque as Batch;
        if (err) b.failure ??= err;
        if (--b.remaining === 0) {
          if (b.failure) b.reject(b.failure);
          else b.resolve();
        }
      });
      return {
        sequential: false,
        send: (batch) =>
          new Promise<void>((resolve, reject) => {
            const b: Batch = { remaining: batch.length, resolve, reject };
            for (const r of batch) producer.produce(r.topic, null, bufferOf(r.value), r.key, r.timestampMs ?? null, b, rdHeaders(r.headers));
          }),
        close: () => new Promise<void>((resolve) => producer.disconnect(5000, () => resolve())),
      };
    }
    case "platformatic": {
      await adapter.close();
      const { loadPlatformatic, platformaticProducerOptions, platformaticMessages, closeProducer } = await import(
        "../../src/adapters/kafka/platformatic-event-log.js"
      );
      const mod = await loadPlatformatic();
      const producer = new mod.Producer(platformaticProducerOptions(mod, { brokers, clientId, deliveryTimeoutMs: delivery }));
      return {
        sequential: true,
        send: async (batch) => {
          await producer.send({ messages: platformaticMessages(batch) });
        },
        close: () => closeProducer(producer),
      };
    }
  }
}
