/**
 * /v1/subscribe against the real Kafka: a subscriber receives the events it (its tenant) just
 * sent, in order per key, and nothing of another tenant; a subscriber that disconnects and comes
 * back with its resume token gets everything after it, nothing twice.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { subscribe, type StreamDelivery } from "../../src/client/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { WeirError } from "../../src/errors.js";

const run = `sub-${Date.now().toString(36)}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const tenant = `${run}-a`;
const other = `${run}-b`;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:secret`, `${other}:secret`] });
}, 120_000);
afterAll(async () => {
  await gateway?.close();
});

const subscribeUrl = () => gateway.url.replace("/v1/ingest", "/v1/subscribe");
const accessLogs = (who: string, n: number, hosts = 4) =>
  Array.from({ length: n }, (_, i) =>
    envelopeOf(
      HttpAccessLogSchema,
      { host: `${run}-h${i % hosts}`, method: "GET", path: `/${i}`, status: 200 + (i % 3) },
      { id: `${who}-${i}`, partitionKey: `${run}-h${i % hosts}` },
    ),
  );

async function take(iter: AsyncIterator<StreamDelivery>, n: number): Promise<StreamDelivery[]> {
  const out: StreamDelivery[] = [];
  while (out.length < n) {
    const r = await iter.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

test("a subscriber gets its tenant's events, in order per key, and no other tenant's", async () => {
  let live = false;
  const sub = subscribe({ url: subscribeUrl(), tenant, apiKey: "secret", stream: "events.weir.events.v1.HttpAccessLog", onSubscribed: () => (live = true) });
  const iter = sub[Symbol.asyncIterator]();
  await waitFor(() => live, "the subscription to be live");
  const mine = accessLogs(tenant, 300);
  await streamAll(gateway.url, { tenant: other, apiKey: "secret" }, accessLogs(other, 100), { connections: 1 });
  await streamAll(gateway.url, { tenant, apiKey: "secret" }, mine, { connections: 1, batch: 50 });
  const got = await take(iter, 300);
  sub.close();
  expect(got.map((d) => d.key).sort()).toEqual(mine.map((e) => e.partitionKey).sort());
  // In order per key: each host's paths increase.
  const byHost = new Map<string, number[]>();
  for (const d of got) {
    const path = Number(new TextDecoder().decode(d.value).match(/\/(\d+)/)?.[1]);
    byHost.set(d.key, [...(byHost.get(d.key) ?? []), path]);
  }
  for (const seq of byHost.values()) expect(seq).toEqual([...seq].sort((a, b) => a - b));
}, 120_000);

test("disconnect and resume with the token: nothing lost, nothing repeated", async () => {
  // Own hosts, picked out with a key prefix; starting a second back, so the first events sent
  // below are in (a timestamp start, then catch-up, then live).
  const prefix = `${run}-r-`;
  const events = Array.from({ length: 400 }, (_, i) =>
    envelopeOf(
      HttpAccessLogSchema,
      { host: `${prefix}h${i % 6}`, method: "GET", path: `/${i}`, status: 200 },
      { id: `${run}-r-${i}`, partitionKey: `${prefix}h${i % 6}` },
    ),
  );
  const options = { url: subscribeUrl(), tenant, apiKey: "secret", stream: "events.weir.events.v1.HttpAccessLog", keyPrefix: prefix };
  const first = subscribe({ ...options, from: { timestampMs: Date.now() - 1000 } });
  const sending = streamAll(gateway.url, { tenant, apiKey: "secret" }, events, { connections: 1, batch: 20 });
  const pathOf = (d: StreamDelivery) => new TextDecoder().decode(d.value).match(/\/(\d+)/)![1]!;
  const seen = (await take(first[Symbol.asyncIterator](), 150)).map(pathOf);
  const token = first.resumeToken!;
  first.close();
  await sending;

  const second = subscribe({ ...options, from: { resumeToken: token } });
  seen.push(...(await take(second[Symbol.asyncIterator](), 250)).map(pathOf));
  second.close();
  const counts = new Map<string, number>();
  for (const p of seen) counts.set(p, (counts.get(p) ?? 0) + 1);
  expect(events.map((_, i) => String(i)).filter((p) => !counts.has(p))).toEqual([]);
  expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
}, 120_000);

test("dropped before its first delivery, the client resumes from where it started: nothing in between is lost", async () => {
  const prefix = `${run}-early-`;
  let subscribedTimes = 0;
  const sub = subscribe({
    url: subscribeUrl(),
    tenant,
    apiKey: "secret",
    stream: "events.weir.events.v1.HttpAccessLog",
    keyPrefix: prefix,
    onSubscribed: () => subscribedTimes++,
    // Away long enough for the events below to be published and acked meanwhile.
    reconnectDelayMs: () => 5000,
  });
  await waitFor(() => subscribedTimes === 1, "the subscription to be live");
  // Drop it from the gateway side (1011: the client reconnects), then publish while it is away.
  for (const s of gateway.subscriptions.subscribers) {
    if (s.keyPrefix === prefix) s.fail(new WeirError("WEIR_ERR_SUBSCRIPTION_FAILED", "test drop"));
  }
  const events = Array.from({ length: 50 }, (_, i) =>
    envelopeOf(HttpAccessLogSchema, { host: `${prefix}h`, method: "GET", path: `/${i}`, status: 200 }, { id: `${run}-early-${i}`, partitionKey: `${prefix}h` }),
  );
  await streamAll(gateway.url, { tenant, apiKey: "secret" }, events, { connections: 1 });
  expect(subscribedTimes).toBe(1); // still away: the events came in between
  const got = await take(sub[Symbol.asyncIterator](), 50);
  sub.close();
  expect(sub.reconnects).toBeGreaterThanOrEqual(1);
  expect(got.map((d) => new TextDecoder().decode(d.value).match(/\/(\d+)/)![1])).toEqual(events.map((_, i) => String(i)));
}, 120_000);
