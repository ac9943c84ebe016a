/**
 * The processor runtime through real Kafka: a job's input records are produced to their topics
 * first, then a Processor (consumer group, worker threads, one transaction per task step) is
 * started and timed from its first committed batch until it has processed them all. This is the
 * exactly-once rate a deployment gets, where `engine` is the engine's alone. Risk's global tables
 * (quotes, reference data) are read before the clock starts; its rate counts trades.
 */
import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Message } from "kafkajs";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { headers, splitTenantKey } from "../../src/kafka-contract.js";
import { ensureTopicsWithKafkajs } from "../../src/adapters/kafka/kafkajs-topics.js";
import { Processor } from "../../src/processor/processor.js";
import { configuredJobs } from "../../src/processor/jobs.js";
import type { RawRecord } from "../../src/processor/thread-messages.js";

export async function produceWorkload(brokers: string, records: readonly RawRecord[]): Promise<void> {
  const registry = SchemaRegistry.builtin();
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-bench-workload" });
  const types = [...new Set(records.map((r) => r.type))].map((t) => registry.eventType(t)!);
  await ensureTopicsWithKafkajs(
    kafka,
    types.map((t) => ({ topic: t.topic, partitions: t.partitions })),
  );
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 2000) {
      const byTopic = new Map<string, Message[]>();
      for (const r of records.slice(i, i + 2000)) {
        const topic = registry.eventType(r.type)!.topic;
        if (!byTopic.has(topic)) byTopic.set(topic, []);
        // As the gateway writes them: the tenant's own key, the tenant in a header.
        const key = splitTenantKey(r.key)?.key ?? r.key;
        byTopic
          .get(topic)!
          .push({ key, value: Buffer.from(r.value), timestamp: String(r.timestampMs), headers: { [headers.type]: r.type, [headers.tenant]: r.tenant } });
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * A job module's exactly-once rate: from its first committed batch until it has processed
 * `expected` stream records (counted by the processor as they commit). A job keyed unlike its
 * producers includes its repartition step.
 */
export async function processorRate(
  brokers: string,
  module: string,
  threads: number,
  expected: number,
): Promise<{ recordsPerSec: number; records: number; outputs: number }> {
  const [configured] = await configuredJobs({ processorJobs: [module], jobOptions: {}, schemaImage: "" });
  const { runtime } = configured!;
  const processor = new Processor({
    brokers: [brokers],
    job: runtime,
    module: configured!.module,
    threads,
    groupId: `weir-bench-${runtime.name}-${randomUUID()}`,
  });
  try {
    await processor.start();
    let first: { atMs: number; records: number } | undefined;
    for (;;) {
      const { records } = processor.stats();
      if (!first && records > 0) first = { atMs: performance.now(), records };
      if (records >= expected) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - first!.atMs) / 1000;
    const { records, outputs } = processor.stats();
    return { recordsPerSec: (records - first!.records) / seconds, records, outputs: Object.values(outputs).reduce((a, b) => a + b, 0) };
  } finally {
    await processor.close();
  }
}
