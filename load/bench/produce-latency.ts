/**
 * The floor under the gateway's ack latency: one batch of records through the Kafka adapter
 * (idempotent, acks=all) at a time, spaced out so nothing queues, timed until Kafka acknowledges.
 */
import { silentLogger } from "../../src/log.js";
import { headers } from "../../src/kafka-contract.js";
import { settings } from "../../src/config.js";
import { createEventLog, type KafkaClient } from "../../src/adapters/kafka/create-event-log.js";
import type { OutRecord } from "../../src/ingest/ports.js";
import { Samples } from "./histogram.js";

export async function produceLatency(
  client: KafkaClient,
  opts: { brokers: string; topic: string; batch: number; recordBytes: number; sends: number },
): Promise<Samples> {
  const log = await createEventLog({
    client,
    brokers: [opts.brokers],
    clientId: `weir-bench-latency-${client}`,
    replicationFactor: 1,
    stallMs: settings.kafkaStallMs.default,
    publishTimeoutMs: settings.kafkaPublishTimeoutMs.default,
    dedupPendingTtlMs: settings.dedupPendingTtlMs.default,
    logger: silentLogger,
  });
  await log.ensureTopics([{ topic: opts.topic, partitions: 6 }]);
  await log.connect();
  const value = new Uint8Array(opts.recordBytes).fill(7);
  const records: OutRecord[] = Array.from({ length: opts.batch }, (_, i) => ({
    topic: opts.topic,
    key: `k${i}`,
    value,
    headers: { [headers.id]: `lat-${i}`, [headers.tenant]: "bench", [headers.type]: "weir.events.v1.HttpAccessLog" },
    timestampMs: Date.now(),
  }));
  const samples = new Samples();
  try {
    await log.publish(records); // warm-up: connections, metadata, producer id
    for (let i = 0; i < opts.sends; i++) {
      const t0 = performance.now();
      await log.publish(records);
      samples.add(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await log.close();
  }
  return samples;
}
