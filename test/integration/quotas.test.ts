/**
 * Per-tenant quotas against the real gateway, Kafka and Redis: tenant A, limited to 500 events/s,
 * floods the gateway; its batches past the quota are answered RETRY_AFTER WEIR_ERR_QUOTA_EXCEEDED
 * with a wait, while tenant B, streaming at the same time, gets every event acked and no quota
 * refusal. A client that honours the waits gets all of A's events into Kafka exactly once, and
 * no faster than the quota lets it.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { IngestClient, ResultCode, type EventResult } from "../../src/client/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { countById, eventTopics, gatewayFor, readTopics, streamAll } from "./support.js";

const run = `quota-${Date.now().toString(36)}`;
const A = { tenant: `${run}-a`, apiKey: "key-a" };
const B = { tenant: `${run}-b`, apiKey: "key-b" };
const QUOTA = 500;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let gateway: Gateway;

beforeAll(async () => {
  gateway = await gatewayFor(services, {
    apiKeys: [`${A.tenant}:${A.apiKey}`, `${B.tenant}:${B.apiKey}`],
    tenantQuotas: { [A.tenant]: { eventsPerSec: QUOTA, bytesPerSec: 0 } },
  });
});
afterAll(async () => {
  await gateway?.close();
});

function events(tenant: string, n: number): Envelope[] {
  const rng = createRng(3);
  return Array.from({ length: n }, (_, i) => ({ ...accessLogEvent(rng, i, { baseTimeMs: Date.now() - 1000 }), id: `${tenant}-${i}` }));
}

test("a tenant past its quota is answered RETRY_AFTER with the wait while another tenant is not held back; honouring the waits gets everything in once", async () => {
  // One pass each, no retries: what the gateway answers at once.
  const flood = await IngestClient.connect({ url: gateway.url, ...A });
  const steady = await IngestClient.connect({ url: gateway.url, ...B });
  const [aResults, bResults] = await Promise.all([flood.publish(events(A.tenant, 3000)), steady.publish(events(B.tenant, 3000))]);
  await flood.close();
  await steady.close();

  const overQuota = aResults.filter((r) => r.errorCode === "WEIR_ERR_QUOTA_EXCEEDED");
  const acked = aResults.filter((r) => r.code === ResultCode.ACK);
  // The first second's worth and one batch of debt went; the rest waits.
  expect(acked.length).toBeGreaterThanOrEqual(QUOTA);
  expect(acked.length).toBeLessThan(3000);
  expect(overQuota.length + acked.length).toBe(3000);
  for (const r of overQuota) {
    expect(r.code).toBe(ResultCode.RETRY_AFTER);
    expect(r.retryAfterMs).toBeGreaterThan(0);
  }
  expect(bResults.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);

  // A client that honours RETRY_AFTER gets the rest of A's events in, at the quota's pace.
  const rest = events(A.tenant, 3000).filter((_, i) => aResults[i]!.code !== ResultCode.ACK);
  const startedMs = Date.now();
  const final: EventResult[] = await streamAll(gateway.url, A, rest, { connections: 1, batch: 100 });
  const seconds = (Date.now() - startedMs) / 1000;
  console.log(`quota ${QUOTA}/s: ${acked.length} acked at once, ${overQuota.length} refused; the rest in ${seconds.toFixed(1)} s`);
  expect(final.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
  // A lower bound only (a loaded machine is slower, never faster): the bucket was in debt, so
  // the rest cannot have gone faster than the quota (a full bucket and one batch of debt aside).
  expect(seconds).toBeGreaterThanOrEqual((rest.length - QUOTA - 100) / QUOTA);

  const counts = countById(await readTopics(services.kafkaBrokers, eventTopics(), A.tenant));
  expect(counts.size).toBe(3000);
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  const bCounts = countById(await readTopics(services.kafkaBrokers, eventTopics(), B.tenant));
  expect(bCounts.size).toBe(3000);
}, 120_000);
