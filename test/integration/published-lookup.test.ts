/**
 * KafkaPublishedLookup on real Kafka: finds records by weir.id + weir.tenant from the offsets of
 * their event time to the high watermark, across partitions; refuses a request whose own range is
 * above its cap, alone; shares one scan among concurrent lookups; answers within its timeout.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { KafkaPublishedLookup } from "../../src/adapters/kafka/published-lookup.js";
import { ensureTopicsWithKafkajs } from "../../src/adapters/kafka/kafkajs-topics.js";
import { headers } from "../../src/kafka-contract.js";

const run = `lookup-${Date.now().toString(36)}`;
const topic = `weir.test.${run}`;
const emptyTopic = `weir.test.${run}-empty`;
const T0 = Date.now() - 3600_000;
let kafka: Kafka;
let producer: Producer;

beforeAll(async () => {
  kafka = new Kafka({ brokers: [inject("kafkaBrokers")], logLevel: logLevel.NOTHING, clientId: "weir-test-lookup" });
  await ensureTopicsWithKafkajs(kafka, [
    { topic, partitions: 3 },
    { topic: emptyTopic, partitions: 2 },
  ]);
  producer = kafka.producer({ idempotent: true });
  await producer.connect();
  // Ten records, event times T0 + i minutes, spread over the partitions by key.
  await producer.send({
    topic,
    acks: -1,
    messages: Array.from({ length: 10 }, (_, i) => ({
      key: `k-${i}`,
      value: Buffer.from(`v-${i}`),
      timestamp: String(T0 + i * 60_000),
      headers: { [headers.id]: `e-${i}`, [headers.tenant]: "acme", [headers.type]: "t" },
    })),
  });
});
afterAll(async () => {
  await producer?.disconnect();
});

const q = (id: string, minute: number, tenant = "acme") => ({ topic, tenant, id, timestampMs: T0 + minute * 60_000 });

test("finds the events whose records are in Kafka, by tenant and id, whatever their partition", async () => {
  const lookup = new KafkaPublishedLookup(kafka, { maxRecords: 1000, timeoutMs: 30_000 });
  const found = await lookup.find([q("e-2", 2), q("e-9", 9), q("e-5", 5, "globex"), q("missing", 3)]);
  expect(found).toEqual(new Set(["acme:e-2", "acme:e-9"]));
});

test("answers an empty set, without error, for an empty topic and for times after every record", async () => {
  const lookup = new KafkaPublishedLookup(kafka, { maxRecords: 1000, timeoutMs: 30_000 });
  expect(await lookup.find([{ topic: emptyTopic, tenant: "acme", id: "e-1", timestampMs: T0 }])).toEqual(new Set());
  expect(await lookup.find([q("e-1", 60)])).toEqual(new Set());
});

test("refuses a lookup that would scan more records than its cap", async () => {
  const lookup = new KafkaPublishedLookup(kafka, { maxRecords: 3, timeoutMs: 30_000 });
  // From minute 0 all ten records are in range: above the cap.
  await expect(lookup.find([q("e-9", 0)])).rejects.toThrow(/would scan 10 Kafka records, more than WEIR_DEDUP_VERIFY_MAX_RECORDS=3/);
  // From minute 8 only two are (the time index bounds the scan): within the cap.
  expect(await lookup.find([q("e-9", 9), q("e-8", 8)])).toEqual(new Set(["acme:e-8", "acme:e-9"]));
});

test("concurrent lookups share scans and each gets its own answer", async () => {
  const lookup = new KafkaPublishedLookup(kafka, { maxRecords: 1000, timeoutMs: 30_000 });
  const answers = await Promise.all([lookup.find([q("e-1", 1)]), lookup.find([q("e-4", 4), q("nope", 4)]), lookup.find([q("e-7", 7, "globex")])]);
  expect(answers).toEqual([new Set(["acme:e-1"]), new Set(["acme:e-4"]), new Set()]);
  // The first scan started alone; the two that arrived meanwhile shared the second.
  expect(lookup.scans).toBe(2);
});

test("in a shared scan, refuses only the request whose own range is above the cap; the others are answered", async () => {
  const lookup = new KafkaPublishedLookup(kafka, { maxRecords: 3, timeoutMs: 30_000 });
  // The first lookup runs alone; the next three arrive meanwhile and share the second scan.
  const first = lookup.find([q("e-9", 9)]);
  const old = lookup.find([q("e-1", 1), q("e-9", 9)]); // from minute 1: nine records
  const recent = lookup.find([q("e-8", 8), q("e-9", 9), q("missing", 8)]);
  const otherTopic = lookup.find([{ topic: emptyTopic, tenant: "acme", id: "e-1", timestampMs: T0 - 86_400_000 }]);
  await expect(old).rejects.toThrow(/verifying 2 events would scan 9 Kafka records, more than WEIR_DEDUP_VERIFY_MAX_RECORDS=3/);
  expect(await recent).toEqual(new Set(["acme:e-8", "acme:e-9"]));
  expect(await otherTopic).toEqual(new Set());
  expect(await first).toEqual(new Set(["acme:e-9"]));
  expect(lookup.scans).toBe(2);
  // The refused request is refused again on its own; a recent one alone is answered.
  await expect(lookup.find([q("e-1", 1)])).rejects.toThrow(/would scan 9 Kafka records/);
  expect(await lookup.find([q("e-7", 7)])).toEqual(new Set(["acme:e-7"]));
});

test("answers within its timeout, offsets included, when Kafka does not answer", async () => {
  // Nothing listens there: kafkajs keeps retrying the connection for far longer than the timeout.
  const unreachable = new Kafka({
    brokers: ["127.0.0.1:1"],
    logLevel: logLevel.NOTHING,
    clientId: "weir-test-lookup-unreachable",
    retry: { retries: 8, maxRetryTime: 5_000 },
  });
  const lookup = new KafkaPublishedLookup(unreachable, { maxRecords: 1000, timeoutMs: 500 });
  const started = Date.now();
  // Whichever deadline fires first (the request's, or the scan's inside it, both at 500 ms) answers.
  await expect(lookup.find([q("e-1", 1)])).rejects.toThrow(
    /looking up 1 events in Kafka took more than 500 ms|reading offsets in Kafka did not finish in time/,
  );
  expect(Date.now() - started).toBeLessThan(2_000);
});
