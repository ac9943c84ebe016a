/**
 * GET /metrics, parsed as Prometheus text exposition format, moves by exactly what was sent: acks,
 * duplicates (and the dedup hits behind them), refusals and their dead letters, records produced.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode, subscribe } from "../../src/client/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { parsePrometheusText, sampleValue, type Samples } from "./prometheus-text.js";

const run = `met-${Date.now().toString(36)}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let gateway: Gateway;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${run}:secret`] });
}, 120_000);
afterAll(async () => {
  await gateway?.close();
});

async function scrape(): Promise<Samples> {
  const res = await fetch(`http://127.0.0.1:${gateway.port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

test("counters move by the expected amounts", async () => {
  const before = await scrape();
  const valid = Array.from({ length: 120 }, (_, i) =>
    envelopeOf(HttpAccessLogSchema, { host: "h", method: "GET", path: "/", status: 200 }, { id: `${run}-${i}` }),
  );
  const invalid = Array.from({ length: 7 }, (_, i) =>
    envelopeOf(HttpAccessLogSchema, { host: "h", method: "GET", path: "/", status: 999 }, { id: `${run}-bad-${i}` }),
  );
  const auth = { tenant: run, apiKey: "secret" };
  const first = await streamAll(gateway.url, auth, [...valid, ...invalid], { connections: 1, batch: 50 });
  expect(first.filter((r) => r.code === ResultCode.ACK)).toHaveLength(120);
  // The first 30 again: duplicates, found in Redis.
  const again = await streamAll(gateway.url, auth, valid.slice(0, 30), { connections: 1 });
  expect(again.every((r) => r.code === ResultCode.DUPLICATE)).toBe(true);
  const after = await scrape();

  const delta = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
  expect(delta("weir_ingest_events_total", { result: "ack", code: "" })).toBe(120);
  expect(delta("weir_ingest_events_total", { result: "duplicate", code: "" })).toBe(30);
  expect(delta("weir_ingest_events_total", { result: "invalid", code: "WEIR_ERR_INVALID_PAYLOAD" })).toBe(7);
  expect(delta("weir_dead_letters_total", { code: "WEIR_ERR_INVALID_PAYLOAD" })).toBe(7);
  expect(delta("weir_dedup_lookups_total")).toBe(150);
  expect(delta("weir_dedup_hits_total")).toBe(30);
  expect(delta("weir_kafka_published_records_total", { outcome: "ok" })).toBe(127);
  // Histograms: one observation per batch / publish / claim.
  expect(delta("weir_ingest_batch_seconds_count")).toBeGreaterThanOrEqual(4);
  expect(delta("weir_kafka_publish_seconds_count", { outcome: "ok" })).toBeGreaterThanOrEqual(3);
  expect(delta("weir_redis_seconds_count", { op: "claim" })).toBeGreaterThanOrEqual(4);
  // Levels are there and sane once the traffic is answered.
  expect(sampleValue(after, "weir_ingest_in_flight_events")).toBe(0);
  expect(sampleValue(after, "weir_connections", { endpoint: "ingest" })).toBeGreaterThanOrEqual(0);
  expect(sampleValue(after, "weir_process_process_resident_memory_bytes")).toBeGreaterThan(0);
}, 120_000);

test("deliveries to subscribers are observed: event time → delivery, per stream", async () => {
  const stream = "events.weir.events.v1.HttpAccessLog";
  let live = false;
  const sub = subscribe({
    url: gateway.url.replace("/v1/ingest", "/v1/subscribe"),
    tenant: run,
    apiKey: "secret",
    stream,
    keyPrefix: `${run}-d`,
    onSubscribed: () => (live = true),
  });
  await waitFor(() => live, "the subscription");
  const before = await scrape();
  const events = Array.from({ length: 25 }, (_, i) =>
    envelopeOf(HttpAccessLogSchema, { host: "h", method: "GET", path: "/", status: 200 }, { id: `${run}-d-${i}`, partitionKey: `${run}-d` }),
  );
  await streamAll(gateway.url, { tenant: run, apiKey: "secret" }, events, { connections: 1 });
  const it = sub[Symbol.asyncIterator]();
  for (let i = 0; i < 25; i++) await it.next();
  sub.close();
  const after = await scrape();
  expect(sampleValue(after, "weir_delivery_latency_seconds_count", { stream }) - sampleValue(before, "weir_delivery_latency_seconds_count", { stream })).toBe(
    25,
  );
  expect(sampleValue(after, "weir_subscribers", { stream })).toBeGreaterThanOrEqual(0);
}, 120_000);
