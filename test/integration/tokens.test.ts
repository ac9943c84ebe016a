/**
 * Tokens against the real gateway: a client whose tokens live 3 s streams for several of their
 * lifetimes on one connection (each refreshed in band), every event exactly once in Kafka; a
 * forged token and an expired one are refused (4401); a tenant publishes only the types its token
 * grants and subscribes only to the streams it grants (4402 otherwise).
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { SignJWT } from "jose";
import { ConnectionClosedError, IngestClient, ResultCode, WeirClient, subscribe, type EventResult } from "../../src/client/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { QuoteSchema } from "../../src/gen/weir/events/v1/market_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { countById, eventTopics, gatewayFor, readTopics, waitFor } from "./support.js";

const SECRET = "integration secret of at least thirty-two bytes";
const tenant = `tokens-${Date.now()}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let gateway: Gateway;
let issued = 0;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [], jwtSecret: SECRET, jwtIssuer: "test-idp" });
});
afterAll(async () => {
  await gateway?.close();
});

function token(opts: { lifetimeS?: number; secret?: string; publish?: string[]; subscribe?: string[] } = {}): Promise<string> {
  issued++;
  return new SignJWT({ weir_tenant: tenant, weir_publish: opts.publish ?? ["weir.events.v1.HttpAccessLog"], weir_subscribe: opts.subscribe ?? ["results.*"] })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer("test-idp")
    .setExpirationTime(Math.floor(Date.now() / 1000) + (opts.lifetimeS ?? 3))
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

test("a client with 3 s tokens streams past several expiries on one connection, refreshing in band; every event once in Kafka", async () => {
  const results = new Map<string, EventResult>();
  const client = await WeirClient.open({ urls: gateway.url, token: () => token(), onResult: (r) => results.set(r.id, r) });
  const rng = createRng(11);
  const ids: string[] = [];
  const startedAt = Date.now();
  for (let i = 0; Date.now() - startedAt < 9_000; i++) {
    const env = { ...accessLogEvent(rng, i, { baseTimeMs: Date.now() - 1000 }), id: `${tenant}-${i}` };
    ids.push(env.id);
    await client.send(env);
    await new Promise((r) => setTimeout(r, 20));
  }
  await client.flush();
  await waitFor(() => ids.every((id) => results.has(id)), "every event answered");
  const stats = client.stats;
  await client.close();

  expect(stats.connects).toBe(1);
  expect(issued).toBeGreaterThanOrEqual(3); // the Hello's token and at least two refreshes
  expect([...results.values()].every((r) => r.code === ResultCode.ACK)).toBe(true);
  const counts = countById(await readTopics(services.kafkaBrokers, eventTopics(), tenant));
  expect(ids.every((id) => counts.get(id) === 1)).toBe(true);
});

test("a forged token and an expired one are refused with 4401", async () => {
  for (const bad of [await token({ secret: "another secret of at least thirty-two bytes!!" }), await token({ lifetimeS: -30 })]) {
    const err = await IngestClient.connect({ url: gateway.url, token: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as ConnectionClosedError).info.code).toBe(4401);
    expect((err as ConnectionClosedError).info.error?.errorCode).toBe("WEIR_ERR_BAD_TOKEN");
  }
});

test("a token's grants: types it may not publish are refused per event, streams it may not read close with 4402", async () => {
  const client = await IngestClient.connect({ url: gateway.url, token: await token({ lifetimeS: 60 }) });
  const quote = envelopeOf(QuoteSchema, { symbol: "ACME", bid: 1, ask: 2, bidSize: 1, askSize: 1, venue: "X" }, { id: `${tenant}-q`, eventTimeMs: Date.now() });
  const [refused] = await client.publish([quote]);
  await client.close();
  expect([refused!.code, refused!.errorCode]).toEqual([ResultCode.UNAUTHORIZED, "WEIR_ERR_FORBIDDEN_TYPE"]);

  const sub = subscribe({
    url: gateway.url.replace("/v1/ingest", "/v1/subscribe"),
    token: await token({ lifetimeS: 60 }),
    stream: "events.weir.events.v1.Quote",
  });
  const err = await sub[Symbol.asyncIterator]()
    .next()
    .catch((e: unknown) => e);
  expect((err as ConnectionClosedError).info.code).toBe(4402);
  sub.close();
});
