/**
 * The Kafka client shootout's guarantees: for each client behind the EventLog port
 * (WEIR_KAFKA_CLIENT), on the real Kafka and Redis:
 * - 3,000 events through the gateway: every one ACKed, in Kafka exactly once, each on the
 *   partition Java's (and kafkajs') murmur2 partitioner gives its key, with the event time as
 *   the record timestamp;
 * - a broker restart mid-stream: the gateway sheds load (RETRY_AFTER, /readyz 503), the
 *   producer rides out the restart, and Kafka holds every event exactly once afterwards.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { Kafka, Partitioners, logLevel } from "kafkajs";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ResultCode } from "../../src/client/index.js";
import { kafkaClients, type KafkaClient } from "../../src/adapters/kafka/create-event-log.js";
import { loadConfluent } from "../../src/adapters/kafka/confluent-event-log.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import type { Gateway } from "../../gateway/gateway.js";
import { continuousStream, countById, eventTopics, gatewayFor, readTopics, streamAll, waitFor } from "./support.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const run = Date.now().toString(36);

// The librdkafka client is an optional native package: .ci/setup builds it, so CI requires it;
// elsewhere its cases are skipped, saying why, when it is not installed.
const confluentMissing = await loadConfluent().then(
  () => undefined,
  (err: Error) => err.message,
);
if (confluentMissing && process.env.CI) throw new Error(`CI must build @confluentinc/kafka-javascript (.ci/setup): ${confluentMissing}`);
const skipReason = (client: KafkaClient) => (client === "confluent" && confluentMissing ? ` (skipped: ${confluentMissing})` : "");

const partitioner = Partitioners.DefaultPartitioner();
/** The partition Java's default partitioner (murmur2) gives `key` among `partitions`. */
function javaPartition(topic: string, key: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  return partitioner({ topic, partitionMetadata, message: { key, value: null } });
}

/** Record timestamps by weir.id, for the `expected` records of `tenant` (readTopics does not return them). */
async function timestampsOf(brokers: string, topics: readonly string[], tenant: string, expected: number): Promise<Map<string, number>> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-test-timestamps" });
  const consumer = kafka.consumer({ groupId: `weir-test-ts-${process.pid}-${Date.now()}-${Math.random()}` });
  const out = new Map<string, number>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timestampsOf: ${out.size} of ${expected} records`)), 60_000);
      consumer
        .run({
          eachBatch: ({ batch }) => {
            for (const m of batch.messages) {
              if (m.headers?.["weir.tenant"]?.toString() === tenant) out.set(m.headers["weir.id"]!.toString(), Number(m.timestamp));
            }
            if (out.size >= expected) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

describe.each(kafkaClients)("WEIR_KAFKA_CLIENT=%s", (client) => {
  const skip = skipReason(client) !== "";

  describe("ingest", () => {
    const tenant = `clients-${client}-${run}`;
    let gateway: Gateway;
    beforeAll(async () => {
      if (skip) return;
      gateway = await gatewayFor(services, { kafkaClient: client, apiKeys: [`${tenant}:k`] });
    });
    afterAll(async () => {
      await gateway?.close();
    });

    test.skipIf(skip)(
      `3,000 events: every one acked, in Kafka exactly once, on its key's partition, stamped with its event time${skipReason(client)}`,
      async () => {
        const rng = createRng(5);
        const events = Array.from({ length: 3000 }, (_, i) => {
          const id = `${tenant}-${i}`;
          return { ...accessLogEvent(rng, i, { baseTimeMs: Date.now() - 60_000 }), id, partitionKey: id };
        });
        const results = await streamAll(gateway.url, { tenant, apiKey: "k" }, events, { connections: 3, batch: 100 });
        expect(results.filter((r) => r.code !== ResultCode.ACK).map((r) => `${r.id}: ${r.errorCode} ${r.reason}`)).toEqual([]);

        const ready = (await (await fetch(`http://127.0.0.1:${gateway.port}/readyz`)).json()) as { checks: { kafka: boolean } };
        expect(ready.checks.kafka).toBe(true);

        const records = await readTopics(services.kafkaBrokers, eventTopics(), tenant);
        const counts = countById(records);
        expect(records.length).toBe(events.length);
        expect([...counts.values()].every((c) => c === 1)).toBe(true);
        expect(new Set(counts.keys())).toEqual(new Set(events.map((e) => e.id)));

        const partitions = new Map(
          SchemaRegistry.builtin()
            .eventTypes()
            .map((t) => [t.topic, t.partitions]),
        );
        const misplaced = records.filter((r) => r.partition !== javaPartition(r.topic, r.key, partitions.get(r.topic)!));
        expect(misplaced.map((r) => `${r.key} on ${r.topic}/${r.partition}`)).toEqual([]);
        expect(records.every((r) => r.headers["weir.tenant"] === tenant && r.key === r.headers["weir.id"])).toBe(true);

        // The record timestamp is the event time, whatever the client.
        const timestamps = await timestampsOf(services.kafkaBrokers, eventTopics(), tenant, events.length);
        const wrongTime = events.filter((e) => timestamps.get(e.id) !== Number(timestampMs(e.eventTime!)));
        expect(wrongTime.map((e) => `${e.id}: ${timestamps.get(e.id)} != ${timestampMs(e.eventTime!)}`)).toEqual([]);
      },
    );
  });

  describe("broker restart", () => {
    const tenant = `restart-${client}`;
    let stack: TestStack;
    let gateway: Gateway;
    beforeAll(async () => {
      if (skip) return;
      stack = await startTestStack();
      gateway = await gatewayFor(stack, { kafkaClient: client, apiKeys: [`${tenant}:k`], retryAfterMs: 50, kafkaStallMs: 300 });
    });
    afterAll(async () => {
      await gateway?.close();
      await stack?.close();
    });

    test.skipIf(skip)(`events sent across a broker restart land exactly once${skipReason(client)}`, async () => {
      const rng = createRng(11);
      let n = 0;
      const make = () => ({ ...accessLogEvent(rng, n, { baseTimeMs: Date.now() - 60_000 }), id: `kr-${client}-${n++}` });
      const stats = gateway.service.stats;
      const auth = { tenant, apiKey: "k" };
      const stream = continuousStream(gateway.url, auth, make, { connections: 3 });

      await waitFor(() => stats.ack >= 1000, "the first 1000 acks");
      await stack.stopKafka();
      expect((await fetch(`http://127.0.0.1:${gateway.port}/healthz`)).status).toBe(200);
      const readyz = async () => (await fetch(`http://127.0.0.1:${gateway.port}/readyz`)).json() as Promise<{ checks: { kafka: boolean } }>;
      await waitFor(async () => !(await readyz()).checks.kafka, "/readyz to report Kafka down");
      // A client that rides out the restart holds the batches that were in flight: the stream's
      // lanes wait for them. Traffic that arrives meanwhile must be turned away at once.
      const arriving = continuousStream(gateway.url, auth, make, { connections: 1, inFlight: 2 });
      const retriesBefore = stats.retry;
      await waitFor(() => stats.retry > retriesBefore + 50, "RETRY_AFTER nacks while the broker is down");

      await stack.startKafka();
      const acksAfterRestart = stats.ack;
      await waitFor(() => stats.ack >= acksAfterRestart + 1000, "1000 more acks after the broker returns", 120_000);
      await Promise.all([stream.stop(), arriving.stop()]);

      const sent = [...stream.sent, ...arriving.sent];
      const results = new Map([...stream.results, ...arriving.results]);
      expect(results.size).toBe(sent.length);
      // Every event is in Kafka: ACK, or DUPLICATE when an attempt that timed out or failed had
      // written it after all (a slow restart on a loaded machine; decision 0019) — never a refusal.
      const notAcked = [...results].filter(([, r]) => r.code !== ResultCode.ACK && r.code !== ResultCode.DUPLICATE);
      expect(notAcked.map(([id, r]) => `${id}: ${ResultCode[r.code]} ${r.errorCode} ${r.reason}`)).toEqual([]);
      const records = await readTopics(stack.kafkaBrokers, eventTopics(), tenant);
      const counts = countById(records);
      expect([...counts].filter(([, c]) => c !== 1)).toEqual([]);
      expect(records.length).toBe(sent.length);
      expect(new Set(counts.keys())).toEqual(new Set(sent.map((e) => e.id)));
    });
  });
});
