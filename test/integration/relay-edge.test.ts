/**
 * Issue 15, item 5, end to end: devices → the edge relay on Deno (exactly as `weir relay` runs it)
 * → the real gateway → Kafka. The relay must not ACK what the cloud then refuses:
 *   - an invalid event is refused at the relay with the gateway's own codes, and reaches neither
 *     its topic nor the dead-letter topic;
 *   - two device tenants sending the same event id both land in Kafka, once each ("<tenant>/<id>",
 *     with the attr.weir.device-tenant header), and a device's retry of its id is deduplicated;
 *   - a refusal only the cloud can make (the gateway's WEIR_TENANT_GRANTS forbid the relay's
 *     tenant a type the relay lets through) shows up in that device's GET /v1/refusals, counted
 *     in the relay's /v1/stats.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { Gateway } from "../../gateway/gateway.js";
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf, IngestClient, ResultCode } from "../../src/client/index.js";
import { DEAD_LETTER_TOPIC } from "../../src/kafka-contract.js";
import { startRelayProcess, type RelayProcess, type RelaySnapshot } from "../../src/relay/relay-process.js";
import { freePort } from "../../src/stack/index.js";
import { accessLog, invalidQuoteEvent, quoteEvent, QUOTE_TOPIC } from "../unit-fixtures/events.js";
import { countById, gatewayFor, readTopics, waitFor, type ReadRecord } from "./support.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const run = `relay-edge-${Date.now()}`;
const ACCESS_LOG_TOPIC = "weir.events.http-access-log";
const dir = mkdtempSync(join(tmpdir(), "weir-relay-edge-"));
let gateway: Gateway;
let relay: RelayProcess | undefined;
const devices: IngestClient[] = [];

beforeAll(async () => {
  // The relay's upstream tenant may publish quotes only: an access log is refused by the gateway alone.
  gateway = await gatewayFor(services, {
    apiKeys: [`${run}:cloud-key`],
    tenantGrants: { [run]: { publish: ["weir.events.v1.Quote"], subscribe: [] } },
  });
  const port = await freePort();
  relay = await startRelayProcess(
    {
      listen: { host: "127.0.0.1", port },
      devices: ["site-7:key-7", "site-8:key-8"],
      upstream: { urls: [`ws://127.0.0.1:${gateway.port}/v1/ingest`], tenant: run, apiKey: "cloud-key" },
      outbox: join(dir, "outbox", "relay.log"),
      relayId: `${run}-relay`,
      lingerMs: 2,
    },
    dir,
    ["ignore", "ignore", "inherit"],
  );
});
afterAll(async () => {
  for (const d of devices) await d.close();
  await relay?.stop();
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function device(tenant: string, apiKey: string): Promise<IngestClient> {
  const d = await IngestClient.connect({ url: relay!.url, tenant, apiKey });
  devices.push(d);
  return d;
}

/** Waits until the relay's upstream has a final answer for everything it stored. */
async function drained(what: string, done: (upstream: RelaySnapshot["upstream"]) => boolean): Promise<RelaySnapshot> {
  let last: RelaySnapshot | undefined;
  await waitFor(async () => {
    last = await relay!.stats();
    return last.upstream.unanswered === 0 && done(last.upstream);
  }, what);
  return last!;
}

/** This run's records of the event topics and the dead-letter topic, read back from Kafka. */
async function ourRecords(): Promise<ReadRecord[]> {
  const records = await readTopics(services.kafkaBrokers, [QUOTE_TOPIC, ACCESS_LOG_TOPIC, DEAD_LETTER_TOPIC]);
  return records.filter((r) => r.headers["weir.id"]?.includes(run));
}

test("an invalid event is refused at the relay with the gateway's codes, and reaches neither its topic nor the dead-letter topic", async () => {
  const site7 = await device("site-7", "key-7");
  const [ok, invalid, unknown] = [`${run}-ok`, `${run}-invalid`, `${run}-unknown`];
  const results = await site7.publish([quoteEvent(ok), invalidQuoteEvent(invalid), { ...quoteEvent(unknown), type: "weir.events.v1.NoSuchThing" }]);
  expect(results.map((r) => [r.id, r.code, r.errorCode])).toEqual([
    [ok, ResultCode.ACK, ""],
    [invalid, ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD"],
    [unknown, ResultCode.UNKNOWN_TYPE, "WEIR_ERR_UNKNOWN_TYPE"],
  ]);
  expect(results[1]!.reason).toMatch(/^invalid weir\.events\.v1\.Quote payload: /);
  const stats = await drained("the valid event to be acked upstream", (u) => u.acked >= 1);
  expect(stats.relay).toMatchObject({ refused: 2, refusedByCode: { WEIR_ERR_INVALID_PAYLOAD: 1, WEIR_ERR_UNKNOWN_TYPE: 1 }, upstreamRefused: 0 });

  const records = await ourRecords();
  expect(records.map((r) => [r.topic, r.headers["weir.id"]])).toEqual([[QUOTE_TOPIC, `site-7/${ok}`]]);
  for (const id of [invalid, unknown]) expect(records.some((r) => r.headers["weir.id"]!.endsWith(id))).toBe(false);
});

test("two device tenants sending the same event id both land in Kafka, once each; a device's retry of its id is deduplicated", async () => {
  const site7 = await device("site-7", "key-7");
  const site8 = await device("site-8", "key-8");
  const same = `${run}-same`;
  expect((await site7.publish([quoteEvent(same)]))[0]!.code).toBe(ResultCode.ACK);
  expect((await site8.publish([quoteEvent(same)]))[0]!.code).toBe(ResultCode.ACK);
  const before = await drained("both events to be acked upstream", (u) => u.acked >= 3);
  expect(before.upstream).toMatchObject({ acked: 3, duplicates: 0, refused: 0 });
  // site-7 did not see its ACK (say) and sends the event again, after the cloud took it: the same event there.
  expect((await site7.publish([quoteEvent(same)]))[0]!.code).toBe(ResultCode.ACK);
  await drained("the retry to be answered upstream", (u) => u.duplicates === 1);

  const records = (await ourRecords()).filter((r) => r.headers["weir.id"]!.endsWith(same));
  expect(Object.fromEntries(countById(records))).toEqual({ [`site-7/${same}`]: 1, [`site-8/${same}`]: 1 });
  // Both as the relay's tenant, each naming its device tenant.
  expect(records.map((r) => [r.topic, r.headers["weir.tenant"], r.headers["attr.weir.device-tenant"]]).sort()).toEqual([
    [QUOTE_TOPIC, run, "site-7"],
    [QUOTE_TOPIC, run, "site-8"],
  ]);
});

test("a refusal only the gateway can make (its grants forbid the relay's tenant a type) shows up in that device's GET /v1/refusals", async () => {
  const site7 = await device("site-7", "key-7");
  const forbidden = `${run}-forbidden`;
  // The relay cannot know the cloud's grants: stored and ACKed…
  expect((await site7.publish([envelopeOf(HttpAccessLogSchema, accessLog, { id: forbidden })]))[0]!.code).toBe(ResultCode.ACK);
  const stats = await drained("the gateway's refusal", (u) => u.refused === 1);

  // …then refused by the gateway for good: in site-7's refusal log, with the device's own id; site-8's is empty.
  const refusals = await relay!.refusals("site-7", "key-7");
  expect(refusals).toEqual([
    {
      id: forbidden,
      errorCode: "WEIR_ERR_FORBIDDEN_TYPE",
      reason: `tenant ${run} may not publish weir.events.v1.HttpAccessLog`,
      atMs: expect.any(Number) as number,
    },
  ]);
  expect(await relay!.refusals("site-8", "key-8")).toEqual([]);
  expect(await relay!.refusals("site-7", "key-7", refusals[0]!.atMs + 1)).toEqual([]);
  const wrongKey = await fetch(relay!.url.replace("ws://", "http://").replace("/v1/ingest", "/v1/refusals"), {
    headers: { authorization: `Basic ${Buffer.from("site-7:key-8").toString("base64")}` },
  });
  expect(wrongKey.status).toBe(401);
  expect(stats.relay).toMatchObject({ upstreamRefused: 1, upstreamRefusedByCode: { WEIR_ERR_FORBIDDEN_TYPE: 1 } });

  // The gateway dead-lettered it under the relay's upstream id.
  const deadLetters = (await ourRecords()).filter((r) => r.topic === DEAD_LETTER_TOPIC);
  expect(deadLetters.map((r) => [r.headers["weir.id"], r.headers["weir.error-code"]])).toEqual([[`site-7/${forbidden}`, "WEIR_ERR_FORBIDDEN_TYPE"]]);
});
