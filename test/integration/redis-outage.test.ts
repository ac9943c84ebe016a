/**
 * Redis stops mid-stream: the gateway stays up and nacks RETRY_AFTER (it never publishes an
 * event it cannot deduplicate); when Redis returns, the retrying clients finish and Kafka holds
 * every event exactly once.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { ResultCode } from "../../src/client/index.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import type { Gateway } from "../../gateway/gateway.js";
import { continuousStream, countById, eventTopics, gatewayFor, readTopics, waitFor } from "./support.js";

const tenant = "redis-outage";
let stack: TestStack;
let gateway: Gateway;

beforeAll(async () => {
  stack = await startTestStack();
  gateway = await gatewayFor(stack, { apiKeys: [`${tenant}:k`], retryAfterMs: 50 });
});
afterAll(async () => {
  await gateway?.close();
  await stack?.close();
});

test("events nacked while Redis is down are published exactly once after it returns", async () => {
  const rng = createRng(11);
  let n = 0;
  const make = () => ({ ...accessLogEvent(rng, n, { baseTimeMs: Date.now() - 60_000 }), id: `ro-${n++}` });
  const stats = gateway.service.stats;
  const stream = continuousStream(gateway.url, { tenant, apiKey: "k" }, make, { connections: 3 });

  await waitFor(() => stats.ack >= 1000, "the first 1000 acks");
  await stack.stopRedis();
  const retriesBefore = stats.retry;
  await waitFor(() => stats.retry > retriesBefore + 50, "RETRY_AFTER nacks while Redis is down");
  expect((await fetch(`http://127.0.0.1:${gateway.port}/healthz`)).status).toBe(200);
  // Readiness follows the periodic checks (WEIR_HEALTH_INTERVAL_MS), not this test's timing.
  const readyz = () => fetch(`http://127.0.0.1:${gateway.port}/readyz`);
  await waitFor(async () => (await readyz()).status === 503, "/readyz 503 while Redis is down");
  expect(((await (await readyz()).json()) as { checks: { redis: boolean } }).checks.redis).toBe(false);

  await stack.startRedis();
  const acksAfterRestart = stats.ack;
  await waitFor(() => stats.ack >= acksAfterRestart + 1000, "1000 more acks after Redis returns");
  await stream.stop();

  expect(stream.results.size).toBe(stream.sent.length);
  expect([...stream.results.values()].every((r) => r.code === ResultCode.ACK)).toBe(true);
  const records = await readTopics(stack.kafkaBrokers, eventTopics(), tenant);
  const counts = countById(records);
  expect(records.length).toBe(stream.sent.length);
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
  expect(new Set(counts.keys())).toEqual(new Set(stream.sent.map((e) => e.id)));
});
