/**
 * Subscriptions' live tails on the reader thread (decision 0025), against the real Kafka: every
 * record reaches the main thread's listener once, in order per partition, and when the thread
 * dies mid-stream a new one reopens the tail where the listener stood: no gap, no repeat.
 */
import { Kafka, logLevel } from "kafkajs";
import { afterAll, expect, inject, test } from "vitest";
import { kafkajsTopicReaders } from "../../src/adapters/kafka/kafkajs-topic-readers.js";
import { PLAINTEXT } from "../../src/adapters/kafka/kafka-security.js";
import { withTailThread } from "../../src/adapters/kafka/tail-thread.js";
import { silentLogger } from "../../src/log.js";
import type { TailRecord } from "../../src/subscribe/ports.js";
import { waitFor } from "./support.js";

const brokers = inject("kafkaBrokers");
const kafka = new Kafka({ brokers: [brokers], clientId: "weir-test-tail-thread", logLevel: logLevel.NOTHING });
const topic = `tail-thread-${Date.now().toString(36)}`;
const readers = withTailThread(kafkajsTopicReaders(kafka), { brokers: [brokers], clientId: "weir-test-tail", security: PLAINTEXT }, silentLogger);
const producer = kafka.producer({ idempotent: true });

afterAll(async () => {
  await readers.close?.();
  await producer.disconnect();
});

async function produce(from: number, n: number): Promise<void> {
  const messages = Array.from({ length: n }, (_, i) => ({
    key: `k${(from + i) % 7}`,
    value: Buffer.from(`v${from + i}`),
    partition: (from + i) % 3,
    headers: { "weir.tenant": "t" },
  }));
  for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
}

test("every record once, in order, across the reader thread's death", async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  await producer.connect();
  await produce(0, 300); // before the tail: not its to deliver (it starts at the end)

  const tail = await readers.openTail(topic);
  expect(tail.next).toEqual([100, 100, 100]);
  const got: TailRecord[] = [];
  const nextSeen: number[][] = [];
  tail.add({
    onRecords: (partition, records, next) => {
      got.push(...records);
      nextSeen.push([partition, next]);
    },
  });
  await produce(300, 3000);
  await waitFor(() => got.length >= 1000, "records through the thread");
  const first = readers.thread.worker!;
  await first.terminate(); // as a crash would
  await produce(3300, 3000);
  await waitFor(() => got.length >= 6000, "every record after the thread was replaced", 90_000);
  expect(readers.thread.worker).toBeDefined();
  expect(readers.thread.worker).not.toBe(first);

  const values = got.map((r) => Buffer.from(r.value).toString());
  expect(new Set(values).size).toBe(values.length); // nothing twice
  expect(values.sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))).toEqual(Array.from({ length: 6000 }, (_, i) => `v${300 + i}`));
  for (let p = 0; p < 3; p++) {
    const offsets = got.filter((r) => r.partition === p).map((r) => r.offset);
    expect(offsets).toEqual(Array.from({ length: 2000 }, (_, i) => 100 + i)); // in order, no gap
  }
  expect(tail.next).toEqual([2100, 2100, 2100]);
  expect(got.every((r) => r.headers["weir.tenant"] === "t" && r.key.startsWith("k"))).toBe(true);
  expect(nextSeen.length).toBeGreaterThan(0);
}, 120_000);
