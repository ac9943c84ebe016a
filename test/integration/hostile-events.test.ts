/**
 * Events an attacker sends to slip past the limits, through the real gateway into the real Kafka
 * (found by trying: ids with NUL bytes landed as records with the id cut at the NUL by the C Kafka
 * client; 4 MB of attributes on a 20-byte payload was acked; Infinity passed `double.gt: 0`;
 * timestamp nanos of -1 were acked). Each is refused INVALID or TOO_LARGE with its reason, nothing
 * of it reaches an event topic, and its dead letter stays small.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { IngestClient, ResultCode } from "../../src/client/index.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { QuoteSchema } from "../../src/gen/weir/events/v1/market_pb.js";
import { DEAD_LETTER_TOPIC } from "../../src/kafka-contract.js";
import type { Gateway } from "../../gateway/gateway.js";
import { eventTopics, gatewayFor, readTopics } from "./support.js";

const tenant = `hostile-${Date.now()}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const MAX_EVENT_BYTES = 16 * 1024;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:k`], maxEventBytes: MAX_EVENT_BYTES, maxFrameBytes: 1024 * 1024 });
});
afterAll(async () => {
  await gateway?.close();
});

const quote = { symbol: "ACME", bid: 10.5, ask: 10.6, bidSize: 100, askSize: 200, venue: "XNAS" };
const quoteEvent = (id: string, over: Partial<typeof quote> = {}, opts: { attributes?: Record<string, string> } = {}) =>
  envelopeOf(QuoteSchema, { ...quote, ...over }, { id, eventTimeMs: Date.now(), ...opts });

test("NUL ids, oversized attributes, Infinity and out-of-range nanos are refused with reasons; none reaches an event topic", async () => {
  const client = await IngestClient.connect({ url: gateway.url, tenant, apiKey: "k" });
  const badNanos = quoteEvent(`${tenant}-nanos`);
  badNanos.eventTime = { ...badNanos.eventTime!, nanos: -1 };
  const cases = [
    quoteEvent("X\0first"),
    quoteEvent("X\0second"),
    quoteEvent(`${tenant}-attr-name`, {}, { attributes: { "k\0hidden": "v" } }),
    quoteEvent(`${tenant}-attrs`, {}, { attributes: { blob: "a".repeat(MAX_EVENT_BYTES) } }),
    quoteEvent(`${tenant}-inf`, { ask: Number.POSITIVE_INFINITY }),
    badNanos,
    quoteEvent(`${tenant}-fine`),
  ];
  const results = await client.publish(cases);
  await client.close();
  expect(results.map((r) => [r.code, r.errorCode])).toEqual([
    [ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
    [ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
    [ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
    [ResultCode.TOO_LARGE, "WEIR_ERR_EVENT_TOO_LARGE"],
    [ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD"],
    [ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
    [ResultCode.ACK, ""],
  ]);
  expect(results[0]!.reason).toContain("id: must not contain control characters");
  expect(results[2]!.reason).toContain("attributes (a name): must not contain control characters");
  expect(results[4]!.reason).toContain("ask: Infinity is not a finite number");
  expect(results[5]!.reason).toContain("event_time: nanos -1 is outside");

  const published = await readTopics(services.kafkaBrokers, eventTopics(), tenant);
  expect(published.map((r) => r.headers["weir.id"])).toEqual([`${tenant}-fine`]);
  const dead = await readTopics(services.kafkaBrokers, [DEAD_LETTER_TOPIC], tenant);
  expect(dead).toHaveLength(6);
  // The oversized one keeps what identifies it, not its 16 KiB of attributes.
  const big = dead.find((r) => r.headers["weir.error-code"] === "WEIR_ERR_EVENT_TOO_LARGE")!;
  expect(big.value.byteLength).toBeLessThan(1024);
});
