/**
 * SIGTERM to a gateway with 100 subscribers connected: it drains, closes every subscriber socket
 * with 1001 (WEIR_ERR_SHUTDOWN) and exits; each subscriber (the client library, given both
 * gateways) moves to the other gateway and resumes from its last delivery: every event once, in
 * order, none missed.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { create, fromBinary } from "@bufbuild/protobuf";
import { subscribe, type WeirSubscription } from "../../src/client/subscribe.js";
import { QuoteSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { startGatewayChild, type GatewayChild } from "./gateway-child.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";

const run = `sigterm-${Date.now().toString(36)}`;
const tenant = run;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const SUBSCRIBERS = 100;
let leaving: GatewayChild;
let staying: Gateway;

beforeAll(async () => {
  // Room for all 100 handshakes at once: past WEIR_MAX_PREAUTH_CONNECTIONS some would be turned
  // away (503) and fail over to the other gateway before the SIGTERM this test is about.
  const settings = { WEIR_SUBSCRIBE_CONFLATE: "", WEIR_MAX_PREAUTH_CONNECTIONS: "1000" };
  [leaving, staying] = await Promise.all([
    startGatewayChild({ services, gatewayId: `${run}-leaving`, apiKeys: [`${tenant}:k`], env: settings }),
    gatewayFor(services, { apiKeys: [`${tenant}:k`], subscribeConflate: [] }),
  ]);
});
afterAll(async () => {
  await leaving?.stop();
  await staying?.close();
});

const subscribeUrl = (ingestUrl: string) => ingestUrl.replace("/v1/ingest", "/v1/subscribe");
let seq = 0;
const quotes = (n: number) =>
  Array.from({ length: n }, () => {
    const i = seq++;
    return envelopeOf(QuoteSchema, create(QuoteSchema, { symbol: run, bid: 10, ask: 11, bidSize: i, askSize: 1, venue: "XNAS" }), {
      id: `${run}-${i}`,
      partitionKey: run,
    });
  });

test("SIGTERM with 100 subscribers: the gateway exits promptly and every subscriber resumes on the other gateway, no gap, no repeat", async () => {
  let subscribed = 0;
  const got = Array.from({ length: SUBSCRIBERS }, () => [] as number[]);
  const subs: WeirSubscription[] = [];
  const loops = Array.from({ length: SUBSCRIBERS }, async (_, s) => {
    const sub = subscribe({
      url: [subscribeUrl(leaving.url), subscribeUrl(staying.url)],
      tenant,
      apiKey: "k",
      stream: "events.weir.events.v1.Quote",
      key: run,
      from: "latest",
      reconnectDelayMs: () => 50,
      onSubscribed: () => subscribed++,
    });
    subs.push(sub);
    for await (const d of sub) got[s]!.push(fromBinary(QuoteSchema, d.value).bidSize);
  });
  await waitFor(() => subscribed === SUBSCRIBERS, "every subscriber on the first gateway");

  const publish = async (n: number) => {
    const results = await streamAll(staying.url, { tenant, apiKey: "k" }, quotes(n), { connections: 1, batch: 25 });
    expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  };
  await publish(50);
  await waitFor(() => got.every((g) => g.length === 50), "the first 50 quotes at every subscriber");

  const termAt = Date.now();
  await leaving.kill("SIGTERM");
  const exitMs = Date.now() - termAt;
  console.log(`gateway with ${SUBSCRIBERS} subscribers exited ${exitMs} ms after SIGTERM (code ${leaving.process.exitCode})`);
  expect(leaving.process.exitCode).toBe(0);
  expect(exitMs).toBeLessThan(30_000);

  await waitFor(() => subscribed === 2 * SUBSCRIBERS, "every subscriber on the other gateway");
  await publish(50);
  await waitFor(() => got.every((g) => g.length >= 100), "all 100 quotes at every subscriber");
  for (const sub of subs) sub.close();
  await Promise.all(loops);
  const expected = Array.from({ length: 100 }, (_, i) => i);
  for (const g of got) expect(g).toEqual(expected);
}, 240_000);
