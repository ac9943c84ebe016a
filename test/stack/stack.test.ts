import { existsSync } from "node:fs";
import { Kafka, Partitioners, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kafkaHealthy, redisPing, startTestStack, type TestStack } from "../../src/stack/index.js";

// Real Kafka + Redis on loopback. The first run on a machine also fetches the Kafka jars (seconds to minutes).
const SLOW = 180_000;

describe("local test stack", () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  }, SLOW);

  afterAll(async () => {
    await stack?.close();
  }, SLOW);

  const kafka = () => new Kafka({ clientId: "stack-test", brokers: [stack.kafkaBrokers], logLevel: logLevel.NOTHING, retry: { retries: 10 } });

  it(
    "creates a 3-partition topic and round-trips a record",
    async () => {
      const admin = kafka().admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "stack-test", numPartitions: 3 }], waitForLeaders: true });
      const [meta] = (await admin.fetchTopicMetadata({ topics: ["stack-test"] })).topics;
      expect(meta?.partitions).toHaveLength(3);
      await admin.disconnect();

      const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
      await producer.connect();
      await producer.send({ topic: "stack-test", messages: [{ key: "k", value: "hello weir", partition: 2 }] });
      await producer.disconnect();

      const consumer = kafka().consumer({ groupId: "stack-test" });
      await consumer.connect();
      await consumer.subscribe({ topic: "stack-test", fromBeginning: true });
      const got = await new Promise<{ partition: number; value: string }>((resolve) => {
        void consumer.run({
          eachMessage: ({ partition, message }) => {
            resolve({ partition, value: message.value?.toString() ?? "" });
            return Promise.resolve();
          },
        });
      });
      await consumer.disconnect();
      expect(got).toEqual({ partition: 2, value: "hello weir" });
    },
    SLOW,
  );

  it("answers redis PING", async () => {
    expect(await redisPing(stack.redisPort)).toBe(true);
  });

  it(
    "restarts redis on the same port",
    async () => {
      await stack.stopRedis();
      expect(await redisPing(stack.redisPort)).toBe(false);
      await stack.startRedis();
      expect(await redisPing(stack.redisPort)).toBe(true);
      // A crash (SIGKILL) is survivable too.
      await stack.stopRedis({ kill: true });
      await stack.startRedis();
      expect(await redisPing(stack.redisPort)).toBe(true);
    },
    SLOW,
  );

  it(
    "restarts kafka on the same port and keeps its topics",
    async () => {
      await stack.stopKafka();
      expect(await kafkaHealthy(stack.kafkaPort)).toBe(false);
      await stack.startKafka();
      expect(await kafkaHealthy(stack.kafkaPort)).toBe(true);

      const admin = kafka().admin();
      await admin.connect();
      expect(await admin.listTopics()).toContain("stack-test");
      await admin.disconnect();

      await stack.stopKafka({ kill: true });
      await stack.startKafka();
      expect(await kafkaHealthy(stack.kafkaPort)).toBe(true);
    },
    SLOW,
  );

  it(
    "close() stops everything and removes the data dir",
    async () => {
      const { dataDir, kafkaPort, redisPort } = stack;
      await stack.close();
      expect(existsSync(dataDir)).toBe(false);
      expect(await kafkaHealthy(kafkaPort)).toBe(false);
      expect(await redisPing(redisPort)).toBe(false);
    },
    SLOW,
  );
});
