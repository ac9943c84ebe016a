/**
 * The Kafka broker restarts mid-stream: sends stall, the gateway stops taking new events (RETRY_AFTER)
 * instead of queueing them, and the idempotent producer rides out the restart. When the broker is
 * back, the retrying clients finish and Kafka holds every event exactly once.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { ResultCode } from "../../src/client/index.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { accessLogEvent } from "../../load/generators/access-log.js";
import { createRng } from "../../load/generators/rng.js";
import type { Gateway } from "../../gateway/gateway.js";
import { continuousStream, countById, eventTopics, gatewayFor, readTopics, waitFor } from "./support.js";

const tenant = "kafka-restart";
let stack: TestStack;
let gateway: Gateway;

beforeAll(async () => {
  stack = await startTestStack();
  gateway = await gatewayFor(stack, { apiKeys: [`${tenant}:k`], retryAfterMs: 50, kafkaStallMs: 300 });
});
afterAll(async () => {
  await gateway?.close();
  await stack?.close();
});

test("events sent across a broker restart land exactly once", async () => {
  const rng = createRng(11);
  let n = 0;
  const make = () => ({ ...accessLogEvent(rng, n, { baseTimeMs: Date.now() - 60_000 }), id: `kr-${n++}` });
  const stats = gateway.service.stats;
  const stream = continuousStream(gateway.url, { tenant, apiKey: "k" }, make, { connections: 3 });

  await waitFor(() => stats.ack >= 1000, "the first 1000 acks");
  await stack.stopKafka();
  const retriesBefore = stats.retry;
  await waitFor(() => stats.retry > retriesBefore + 50, "RETRY_AFTER nacks while the broker is down");
  expect((await fetch(`http://127.0.0.1:${gateway.port}/healthz`)).status).toBe(200);
  // The breaker half-opens now and then to probe the broker, so wait for a 503 rather than expect one at once.
  const readyz = async () => (await fetch(`http://127.0.0.1:${gateway.port}/readyz`)).json() as Promise<{ ready: boolean; checks: { kafka: boolean } }>;
  await waitFor(async () => !(await readyz()).checks.kafka, "/readyz to report Kafka down");

  await stack.startKafka();
  const acksAfterRestart = stats.ack;
  await waitFor(() => stats.ack >= acksAfterRestart + 1000, "1000 more acks after the broker returns");
  await stream.stop();

  expect(stream.results.size).toBe(stream.sent.length);
  expect([...stream.results.values()].every((r) => r.code === ResultCode.ACK)).toBe(true);
  const records = await readTopics(stack.kafkaBrokers, eventTopics(), tenant);
  const counts = countById(records);
  expect(records.length).toBe(stream.sent.length);
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
  expect(new Set(counts.keys())).toEqual(new Set(stream.sent.map((e) => e.id)));
});
