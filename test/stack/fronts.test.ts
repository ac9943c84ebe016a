/**
 * A broker with a front (startTestStack `fronts`): a client that bootstraps through the proxy in
 * front of it is told the proxy's address, so cutting the proxy cuts that client off Kafka, while
 * a client on the broker's own listener carries on. This is what lets the chaos suite put latency
 * and connection resets between the gateways and Kafka.
 */
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { TcpProxy } from "../integration/tcp-proxy.js";

let stack: TestStack;
let front: TcpProxy;
beforeAll(async () => {
  front = await TcpProxy.start();
  stack = await startTestStack({ fronts: [front.port] });
  front.targetPort = stack.brokers[0]!.frontTarget!;
}, 180_000);
afterAll(async () => {
  await front?.close();
  await stack?.close();
});

const kafka = (brokers: string[], retries = 2) =>
  new Kafka({ brokers, clientId: "weir-test-fronts", logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries, initialRetryTime: 100 } });

test("a client bootstrapped through a broker's front is sent to the front; cutting it cuts only that client off", async () => {
  expect(stack.frontBrokerList).toEqual([`127.0.0.1:${front.port}`]);
  const throughFront = kafka(stack.frontBrokerList);
  const admin = throughFront.admin();
  await admin.connect();
  const { brokers } = await admin.describeCluster();
  expect(brokers.map((b) => `${b.host}:${b.port}`)).toEqual([`127.0.0.1:${front.port}`]);
  await admin.createTopics({ topics: [{ topic: "fronted", numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();

  const producer = throughFront.producer({ idempotent: true, retry: { retries: 1, initialRetryTime: 100 } });
  await producer.connect();
  await producer.send({ topic: "fronted", acks: -1, messages: [{ value: "through the front" }] });

  front.cut();
  await expect(producer.send({ topic: "fronted", acks: -1, timeout: 2000, messages: [{ value: "cut off" }] })).rejects.toThrow();
  const direct = kafka(stack.kafkaBrokerList).producer({ idempotent: true });
  await direct.connect();
  await direct.send({ topic: "fronted", acks: -1, messages: [{ value: "direct" }] });
  await direct.disconnect();

  front.restore();
  await producer.send({ topic: "fronted", acks: -1, messages: [{ value: "after restore" }] });
  await producer.disconnect();
  expect(front.refused).toBeGreaterThan(0);
});
