/**
 * Decision 0010 on real Kafka and Redis: a gateway that died holding dedup claims leaves them
 * stale (no heartbeat), and the gateway that receives the client's retry verifies them against
 * Kafka. Died after Kafka's ack, before the confirm: the record is there → DUPLICATE, nothing
 * published again. Died before publishing: the record is not there → published, once. A live
 * gateway's young claim is left alone → RETRY_AFTER WEIR_ERR_IN_PROGRESS.
 * The dead gateway is simulated exactly: its record is produced as eventRecord builds it, its
 * claim is written as RedisDedupStore writes it, and no heartbeat exists for it.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { Redis } from "ioredis";
import { IngestClient, ResultCode } from "../../src/client/index.js";
import { QuoteSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { eventRecord } from "../../src/ingest/records.js";
import { claimValue, defaultKeyPrefix, defaultOwnerPrefix } from "../../src/adapters/redis/redis-dedup-store.js";
import type { Gateway } from "../../gateway/gateway.js";
import { countById, gatewayFor, readTopics, waitFor } from "./support.js";
import { parsePrometheusText, sampleValue } from "./prometheus-text.js";

const run = `stale-${Date.now().toString(36)}`;
const tenant = run;
const TOPIC = "weir.events.quote";
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let gateway: Gateway;
let producer: Producer;
let redis: Redis;
let client: IngestClient;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:k`] });
  producer = new Kafka({ brokers: [services.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-dead-gateway" }).producer({ idempotent: true });
  await producer.connect();
  redis = new Redis(services.redisUrl);
  client = await IngestClient.connect({ url: gateway.url, tenant, apiKey: "k" });
});
afterAll(async () => {
  await client?.close();
  await producer?.disconnect();
  redis?.disconnect();
  await gateway?.close();
});

let n = 0;
function quote(opts: { eventTimeMs?: number; partitionKey?: string } = {}): Envelope {
  return envelopeOf(QuoteSchema, { symbol: "ACME", bid: 10.5, ask: 10.6, bidSize: 100, askSize: 200, venue: "XNAS" }, { id: `${run}-${n++}`, ...opts });
}

const dedupKey = (env: Envelope) => `${defaultKeyPrefix}${tenant}:${env.id}`;

/** What the dead gateway got into Kafka before it died: the record exactly as it publishes it (acks=all). */
async function publishedByDeadGateway(events: readonly Envelope[]): Promise<void> {
  const records = events.map((env) => eventRecord(TOPIC, tenant, env));
  await producer.send({
    topic: TOPIC,
    acks: -1,
    messages: records.map((r) => ({ key: r.key, value: Buffer.from(r.value), headers: { ...r.headers }, timestamp: String(r.timestampMs) })),
  });
}

/** The dead gateway's claims, as RedisDedupStore writes them, made `ageMs` ago by Redis's clock. */
async function claimedBy(owner: string, events: readonly Envelope[], ageMs = 0): Promise<void> {
  const [s, us] = await redis.time();
  const at = Number(s) * 1000 + Math.floor(Number(us) / 1000) - ageMs;
  for (const env of events) await redis.set(dedupKey(env), claimValue(`${owner}/1`, at), "PX", 600_000);
}

async function recordsOf(events: readonly Envelope[]): Promise<Map<string, number>> {
  const ids = new Set(events.map((e) => e.id));
  const counts = countById(await readTopics(services.kafkaBrokers, [TOPIC], tenant));
  return new Map([...counts].filter(([id]) => ids.has(id)));
}

async function staleOutcomes(): Promise<(outcome: string) => number> {
  const samples = parsePrometheusText(await gateway.metrics.text());
  return (outcome) => sampleValue(samples, "weir_dedup_stale_claims_total", { outcome });
}

test("died after Kafka's ack, before the confirm: the retry is DUPLICATE and Kafka holds the event once", async () => {
  const env = quote({ eventTimeMs: Date.now() - 30_000 });
  await publishedByDeadGateway([env]);
  await claimedBy(`${run}-gw-dead-1`, [env]);
  const before = await staleOutcomes();

  const [result] = await client.publish([env]);
  expect(result, result!.reason).toMatchObject({ id: env.id, code: ResultCode.DUPLICATE });
  await waitFor(async () => (await redis.get(dedupKey(env))) === "d", "the id confirmed as published");
  expect(await recordsOf([env])).toEqual(new Map([[env.id, 1]]));
  expect((await staleOutcomes())("found") - before("found")).toBe(1);

  // A further retry is answered from Redis alone.
  const [again] = await client.publish([env]);
  expect(again!.code).toBe(ResultCode.DUPLICATE);
  expect((await staleOutcomes())("found") - before("found")).toBe(1);
});

test("died before publishing: the retry is published, and Kafka holds the event once", async () => {
  const env = quote({ eventTimeMs: Date.now() - 30_000 });
  await claimedBy(`${run}-gw-dead-2`, [env]);
  const before = await staleOutcomes();

  const [result] = await client.publish([env]);
  expect(result).toMatchObject({ id: env.id, code: ResultCode.ACK });
  await waitFor(async () => (await redis.get(dedupKey(env))) === "d", "the id confirmed as published");
  expect(await recordsOf([env])).toEqual(new Map([[env.id, 1]]));
  expect((await staleOutcomes())("republished") - before("republished")).toBe(1);
});

test("a batch of a dead gateway's claims over several partitions: each event ends up in Kafka exactly once", async () => {
  const now = Date.now();
  // Distinct partition keys and event times up to two minutes old; every other event reached Kafka.
  const events = Array.from({ length: 24 }, (_, i) => quote({ eventTimeMs: now - 120_000 + i * 5_000, partitionKey: `key-${i}` }));
  const reached = events.filter((_, i) => i % 2 === 0);
  await publishedByDeadGateway(reached);
  await claimedBy(`${run}-gw-dead-3`, events);
  const fresh = [quote(), quote()];

  const results = await client.publish([...events, ...fresh]);
  expect(results.map((r) => r.code)).toEqual([...events.map((_, i) => (i % 2 === 0 ? ResultCode.DUPLICATE : ResultCode.ACK)), ResultCode.ACK, ResultCode.ACK]);
  const counts = await recordsOf([...events, ...fresh]);
  expect(counts.size).toBe(events.length + fresh.length);
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
});

test("a live gateway's claim younger than the pending TTL is left alone: RETRY_AFTER IN_PROGRESS, nothing published", async () => {
  const owner = `${run}-gw-live`;
  await redis.set(`${defaultOwnerPrefix}${owner}`, "1", "PX", 60_000);
  const env = quote();
  await claimedBy(owner, [env]);

  const [result] = await client.publish([env]);
  expect(result).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_IN_PROGRESS" });
  expect((await redis.get(dedupKey(env)))!.startsWith(`${owner}/1@`)).toBe(true);

  // The same claim once its gateway stops heartbeating: verified, not in Kafka, published once.
  await redis.del(`${defaultOwnerPrefix}${owner}`);
  const [retried] = await client.publish([env]);
  expect(retried!.code).toBe(ResultCode.ACK);
  expect(await recordsOf([env])).toEqual(new Map([[env.id, 1]]));
});

test("a live gateway's claim older than the pending TTL is verified: found in Kafka, DUPLICATE", async () => {
  const owner = `${run}-gw-stuck`;
  await redis.set(`${defaultOwnerPrefix}${owner}`, "1", "PX", 60_000);
  const env = quote({ eventTimeMs: Date.now() - 10_000 });
  await publishedByDeadGateway([env]);
  await claimedBy(owner, [env], gateway.config.dedupPendingTtlMs);

  const [result] = await client.publish([env]);
  expect(result!.code).toBe(ResultCode.DUPLICATE);
  expect(await recordsOf([env])).toEqual(new Map([[env.id, 1]]));
});

test("a gateway restarted under the same WEIR_GATEWAY_ID does not revive the dead process's claims", async () => {
  const reused = `${run}-gw-reused`;
  const env = quote({ eventTimeMs: Date.now() - 10_000 });
  await claimedBy(reused, [env]);
  const successor = await gatewayFor(services, { apiKeys: [`${tenant}:k`], gatewayId: reused });
  try {
    expect(successor.instanceId).not.toBe(reused);
    expect(successor.instanceId.startsWith(`${reused}~`)).toBe(true);
    const c = await IngestClient.connect({ url: successor.url, tenant, apiKey: "k" });
    const [result] = await c.publish([env]);
    await c.close();
    // Verified as stale at once (not in Kafka: published), not held IN_PROGRESS for the pending TTL.
    expect(result).toMatchObject({ id: env.id, code: ResultCode.ACK });
    expect(await recordsOf([env])).toEqual(new Map([[env.id, 1]]));
  } finally {
    await successor.close();
  }
});

test("a gateway that closes deletes its heartbeat; one that runs keeps it", async () => {
  const key = `${defaultOwnerPrefix}${gateway.instanceId}`;
  expect(await redis.exists(key)).toBe(1);
  const other = await gatewayFor(services, { apiKeys: [`${tenant}:k`] });
  const otherKey = `${defaultOwnerPrefix}${other.instanceId}`;
  await waitFor(async () => (await redis.exists(otherKey)) === 1, "the second gateway's heartbeat");
  await other.close();
  expect(await redis.exists(otherKey)).toBe(0);
  expect(await redis.exists(key)).toBe(1);
});
