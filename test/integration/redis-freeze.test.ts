/**
 * Redis frozen (SIGSTOP) for 8 s mid-stream. Claim scripts that timed out on the gateway run when
 * Redis resumes; the gateway gave up on them, so it releases them then (AbandonedClaims) instead
 * of leaving them "pending" for the 120 s pending TTL. Every event sent before the thaw is
 * answered soon after it, all acked, each in Kafka exactly once.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { ResultCode } from "../../src/client/index.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import type { Gateway } from "../../gateway/gateway.js";
import { continuousStream, countById, eventTopics, gatewayFor, readTopics, waitFor } from "./support.js";

const tenant = "redis-freeze";
const FREEZE_MS = 8_000;
let stack: TestStack;
let gateway: Gateway;

beforeAll(async () => {
  stack = await startTestStack();
  gateway = await gatewayFor(stack, { apiKeys: [`${tenant}:k`], redisTimeoutMs: 500 });
});
afterAll(async () => {
  try {
    stack?.resume("redis");
  } catch {
    // not running
  }
  await gateway?.close();
  await stack?.close();
});

test("after an 8 s Redis freeze every event is answered soon after the thaw, exactly once in Kafka", async () => {
  const rng = createRng(5);
  let n = 0;
  const make = () => ({ ...accessLogEvent(rng, n, { baseTimeMs: Date.now() - 60_000 }), id: `rf-${n++}` });
  const stream = continuousStream(gateway.url, { tenant, apiKey: "k" }, make, { connections: 3 });
  const stats = gateway.service.stats;

  await waitFor(() => stats.ack >= 1000, "the first 1000 acks");
  stack.pause("redis");
  // The fault itself lasts a fixed time; nothing here waits for a condition.
  await new Promise((r) => setTimeout(r, FREEZE_MS));
  const sentBeforeThaw = stream.sent.map((e) => e.id);
  stack.resume("redis");
  const thawedAt = Date.now();
  await waitFor(() => sentBeforeThaw.every((id) => stream.results.has(id)), "answers to every event sent before the thaw", 110_000);
  const answeredAfterMs = Date.now() - thawedAt;
  console.log(
    `redis frozen ${FREEZE_MS} ms: every earlier event answered ${answeredAfterMs} ms after the thaw; ${gateway.service.abandonedClaims.released} abandoned claims released`,
  );
  await stream.stop();

  // Well below the pending TTL (120 s) that abandoned claims used to hold events for.
  expect(answeredAfterMs).toBeLessThan(60_000);
  expect(gateway.service.abandonedClaims.released).toBeGreaterThan(0);
  expect([...stream.results.values()].every((r) => r.code === ResultCode.ACK)).toBe(true);
  const counts = countById(await readTopics(stack.kafkaBrokers, eventTopics(), tenant));
  expect(new Set(counts.keys())).toEqual(new Set(stream.sent.map((e) => e.id)));
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
});
