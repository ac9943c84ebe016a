/**
 * The 3-broker stack: three KRaft nodes in one quorum, every topic (internal ones too) with three
 * replicas and two in sync. A record acked with acks=all survives the SIGKILL of its partition's
 * leader, and producing goes on against the two that are left.
 */
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { readCommitted } from "../../src/adapters/kafka/read-committed.js";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ brokers: 3 });
}, 240_000);
afterAll(async () => {
  await stack?.close();
});

test("three brokers: replicated topics, and acked records survive the leader's SIGKILL", async () => {
  const kafka = new Kafka({ brokers: stack.kafkaBrokerList, logLevel: logLevel.NOTHING, clientId: "weir-test-3-brokers" });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "three", numPartitions: 1, replicationFactor: stack.replicationFactor }] });
  const [meta] = (await admin.fetchTopicMetadata({ topics: ["three"] })).topics;
  expect(meta!.partitions[0]!.replicas).toHaveLength(3);
  const configs = await admin.describeConfigs({
    resources: [{ type: 4, name: "1", configNames: ["min.insync.replicas", "offsets.topic.replication.factor"] }],
    includeSynonyms: false,
  });
  const value = (name: string) => configs.resources[0]!.configEntries.find((e) => e.configName === name)?.configValue;
  expect(value("min.insync.replicas")).toBe("2");
  expect(value("offsets.topic.replication.factor")).toBe("3");

  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  await producer.send({ topic: "three", acks: -1, messages: Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  const leader = meta!.partitions[0]!.leader;
  await stack.brokers.find((b) => b.nodeId === leader)!.stop({ kill: true });
  await producer.send({ topic: "three", acks: -1, messages: Array.from({ length: 100 }, (_, i) => ({ key: `k${100 + i}`, value: `v${100 + i}` })) });
  await producer.disconnect();
  await admin.disconnect();

  const seen: string[] = [];
  await readCommitted(kafka, "three", (_p, m) => seen.push(m.value!.toString()));
  expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => `v${i}`));
});
