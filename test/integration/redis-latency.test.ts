/**
 * 300 ms of added latency each way between two gateways and Redis for 8 s while a client streams
 * 200 events/s to both (the chaos suite's Redis-latency fault, on one broker). The full chaos run
 * found some events held for ~120 s (the pending TTL) after such a spell. Expected: every event
 * sent before the latency ends is answered soon after, acked, and in Kafka exactly once.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { ResultCode, WeirClient, type EventResult } from "../../src/client/index.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { chaosEvent } from "../chaos/events.js";
import { countById, eventTopics, gatewayFor, readTopics, waitFor } from "./support.js";
import { TcpProxy } from "./tcp-proxy.js";

const tenant = "redis-latency";
const RATE = 200;
const LATENCY_MS = 300;
const SPELL_MS = 8_000;
let stack: TestStack;
let proxy: TcpProxy;
let gateways: Gateway[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  proxy = await TcpProxy.start(stack.redisPort);
  const services = { kafkaBrokers: stack.kafkaBrokers, redisUrl: `redis://127.0.0.1:${proxy.port}` };
  gateways = await Promise.all(["a", "b"].map((g) => gatewayFor(services, { apiKeys: [`${tenant}:k`], gatewayId: `rl-${g}` })));
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await proxy?.close();
  await stack?.close();
});

test("after a spell of 300 ms Redis latency every event is answered soon after, exactly once in Kafka", async () => {
  const prefix = `rl-${Date.now().toString(36)}`;
  const results = new Map<string, EventResult>();
  const client = await WeirClient.open({
    urls: gateways.map((g) => g.url),
    tenant,
    apiKey: "k",
    maxBufferedEvents: 2000,
    onResult: (r) => results.set(r.id, r),
  });
  const t0 = Date.now();
  let sent = 0;
  let stopped = false;
  const sending = (async () => {
    for (let i = 0; !stopped; i++) {
      const due = t0 + (i * 1000) / RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      await client.send(chaosEvent(prefix, i, RATE, t0));
      sent = i + 1;
    }
  })();

  await waitFor(() => results.size >= 1000, "the first 1000 answers");
  proxy.latencyMs = LATENCY_MS;
  // The fault itself lasts a fixed time; nothing here waits for a condition.
  await new Promise((r) => setTimeout(r, SPELL_MS));
  proxy.latencyMs = 0;
  const sentBeforeEnd = sent;
  const endedAt = Date.now();
  await waitFor(
    () => Array.from({ length: sentBeforeEnd }, (_, i) => `${prefix}-${i}`).every((id) => results.has(id)),
    "answers to every event sent before the latency ended",
    180_000,
  );
  const answeredAfterMs = Date.now() - endedAt;
  stopped = true;
  await sending;
  await client.flush();
  await client.close();
  const abandoned = gateways.map((g) => g.service.abandonedClaims);
  console.log(
    `redis latency ${LATENCY_MS} ms for ${SPELL_MS} ms: every earlier event answered ${answeredAfterMs} ms after; ` +
      `released ${abandoned.map((a) => a.released).join("/")}, confirmed later ${abandoned.map((a) => a.confirmed).join("/")}; ` +
      `client ${JSON.stringify(client.stats)}`,
  );

  // Within the 15 s asked of an 8 s freeze; far below the 120 s pending TTL.
  expect(answeredAfterMs).toBeLessThan(15_000);
  expect([...results.values()].every((r) => r.code === ResultCode.ACK || r.code === ResultCode.DUPLICATE)).toBe(true);
  const counts = countById(await readTopics(stack.kafkaBrokers, eventTopics(), tenant));
  expect(counts.size).toBe(sent);
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
});
