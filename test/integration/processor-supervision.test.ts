/**
 * A processor is never a live process doing nothing. Each fault here once left kafkajs's consumer
 * stopped or stuck without a word while the lag grew; the processor's supervision (ProgressWatch
 * on the broker's view of the group) restarts its runtime, and every record is processed:
 * - the consumer stops and leaves its group (as kafkajs does when it gives up after a coordinator
 *   loss it deems fatal): restarted once it has been missing for the stall time;
 * - the consumer stops fetching but keeps its partitions (records wait, nothing is committed);
 * - the only broker is killed and comes back 15 s later.
 */
import type { Consumer } from "kafkajs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { Processor } from "../../src/processor/processor.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";

const tenant = "supervised";
let stack: TestStack;
let gateway: Gateway;
let processor: Processor;
const log: string[] = [];
let sent = 0;

beforeAll(async () => {
  stack = await startTestStack();
  gateway = await gatewayFor(stack, { apiKeys: [`${tenant}:k`] });
  const { runtime, module } = await exampleJob("error-rate");
  processor = new Processor({
    brokers: [stack.kafkaBrokers],
    job: runtime,
    module,
    threads: 1,
    groupId: "weir-test-supervised",
    supervision: { stallMs: 4_000, intervalMs: 500, probeDeadlineMs: 2_000 },
    log: (l) => {
      log.push(l);
      process.stderr.write(`[processor] ${l}\n`);
    },
  });
  await processor.start();
}, 180_000);
afterAll(async () => {
  await processor?.close();
  await gateway?.close();
  await stack?.close();
});

/** Publishes `n` access logs through the gateway (acked = in Kafka). */
async function wave(n: number): Promise<void> {
  const events = Array.from({ length: n }, () => {
    const i = sent++;
    return envelopeOf(
      HttpAccessLogSchema,
      { host: `h${i % 5}`, method: "GET", path: "/", status: 200 },
      { id: `sup-${i}`, eventTimeMs: Date.now() - 1000, partitionKey: `h${i % 5}` },
    );
  });
  const results = await streamAll(gateway.url, { tenant, apiKey: "k" }, events, { connections: 1, batch: 50, deadlineMs: 120_000 });
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
}

/** The job's group consumer (white-box: the faults below are kafkajs's own states). */
const consumerOf = (p: Processor) => (p as unknown as { consumer: Consumer }).consumer;
const restarts = () => log.filter((l) => l.startsWith("restarting")).length;

test("records are processed before any fault", async () => {
  await wave(200);
  await waitFor(() => processor.stats().records === sent, "the first wave processed", 120_000);
});

test("a consumer that stops and leaves its group is restarted, and what came meanwhile is processed", async () => {
  const before = restarts();
  await consumerOf(processor).stop();
  await wave(200);
  await waitFor(() => processor.stats().records === sent, "the second wave processed", 120_000);
  expect(restarts()).toBeGreaterThan(before);
  expect(processor.health()).toMatchObject({ live: true });
});

test("a consumer that keeps its partitions but stops fetching is restarted once the stall time passed", async () => {
  const before = restarts();
  const consumer = consumerOf(processor);
  consumer.pause([{ topic: (processor as unknown as { inputTopic: string }).inputTopic }]);
  // A fetch already on its way when pausing still delivers: wait for one that started after it.
  await new Promise<void>((resolve) => {
    const off = consumer.on(consumer.events.FETCH_START, () => {
      off();
      resolve();
    });
  });
  await wave(200);
  await waitFor(() => processor.stats().records === sent, "the third wave processed", 120_000);
  expect(log.slice(-20).join("\n")).toMatch(/records waiting and nothing was committed/);
  expect(restarts()).toBeGreaterThan(before);
});

test("the only broker killed and back 15 s later: the processor goes on", async () => {
  await stack.stopKafka({ kill: true });
  // The outage itself lasts a fixed time.
  await new Promise((r) => setTimeout(r, 15_000));
  await stack.startKafka();
  await wave(200);
  await waitFor(() => processor.stats().records === sent, "the wave after the broker restart processed", 180_000);
  expect(processor.health()).toMatchObject({ live: true });
});
