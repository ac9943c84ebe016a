/**
 * The ingest path end to end on real Kafka and Redis: 12,000 events from four connections,
 * ~5% duplicates and ~5% invalid. Read back, Kafka holds exactly the valid unique events
 * (none lost, none twice), the invalid ones are in the dead-letter topic with their reasons,
 * and every event got a final result.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { ResultCode } from "../../src/client/index.js";
import { DeadLetterSchema } from "../../src/gen/weir/v1/dead_letter_pb.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { mixedTraffic } from "../../src/generators/mixed.js";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor, readTopics, streamAll } from "./support.js";

const tenant = `exactly-once-${Date.now()}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let gateway: Gateway;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:secret`] });
});
afterAll(async () => {
  await gateway?.close();
});

test("every valid unique event lands in Kafka exactly once; invalid ones in the dead-letter topic", async () => {
  const planned = mixedTraffic({ count: 12_000, seed: 7, idPrefix: `${tenant}-` });
  // Four connections, several 250-event batches in flight on each, retried until final.
  const finals = await streamAll(
    gateway.url,
    { tenant, apiKey: "secret" },
    planned.map((p) => p.env),
    { connections: 4, batch: 250 },
  );
  const results = new Map(finals.map((r, i) => [i, r]));

  // An ack or nack for every event, and the right one.
  expect(results.size).toBe(planned.length);
  const validIds = new Set<string>();
  const invalidIds = new Set<string>();
  planned.forEach((p, i) => {
    const r = results.get(i)!;
    if (p.expect === "invalid") {
      invalidIds.add(p.env.id);
      expect([ResultCode.INVALID, ResultCode.UNKNOWN_TYPE], `event ${p.env.id}: ${r.reason}`).toContain(r.code);
    } else {
      validIds.add(p.env.id);
      // A planned duplicate whose original was still in flight may be the one acked: either way, one ack per id.
      expect([ResultCode.ACK, ResultCode.DUPLICATE], `event ${p.env.id}: ${r.reason}`).toContain(r.code);
    }
  });
  const acks = [...results.values()].filter((r) => r.code === ResultCode.ACK).length;
  expect(acks).toBe(validIds.size);
  expect(planned.filter((p) => p.expect === "duplicate").length).toBeGreaterThan(300);
  expect(invalidIds.size).toBeGreaterThan(300);

  // Read Kafka back: exactly the valid unique ids, each once, on the topic of its type.
  const registry = SchemaRegistry.builtin();
  const eventTopics = registry.eventTypes().map((t) => t.topic);
  const records = await readTopics(services.kafkaBrokers, eventTopics, tenant);
  const seen = new Map<string, number>();
  for (const r of records) {
    seen.set(r.headers["weir.id"]!, (seen.get(r.headers["weir.id"]!) ?? 0) + 1);
    expect(registry.eventType(r.headers["weir.type"]!)?.topic).toBe(r.topic);
  }
  expect(records.length).toBe(validIds.size);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  expect(new Set(seen.keys())).toEqual(validIds);

  // The dead-letter topic: each invalid event once, with its code and a reason naming the problem.
  const dead = await readTopics(services.kafkaBrokers, [gateway.config.deadLetterTopic], tenant);
  const letters = dead.map((r) => fromBinary(DeadLetterSchema, r.value));
  expect(letters.length).toBe(invalidIds.size);
  expect(new Set(letters.map((l) => l.event?.id))).toEqual(invalidIds);
  for (const l of letters) {
    expect(l.tenant).toBe(tenant);
    expect(l.errorCode).toMatch(/^WEIR_ERR_(INVALID_PAYLOAD|UNKNOWN_TYPE)$/);
    expect(l.reason.length).toBeGreaterThan(10);
  }
  expect(letters.some((l) => l.reason.includes("status"))).toBe(true);
  expect(letters.some((l) => l.reason.includes("amount_minor"))).toBe(true);
});
