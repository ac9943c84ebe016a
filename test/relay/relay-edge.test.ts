/**
 * Issue 15, item 5: the relay must not ACK what the cloud then refuses.
 *   1. every event is checked at the edge with the gateway's own EventChecker (same schema image
 *      setting), answered with the gateway's result and error codes, and never stored if refused;
 *   2. ids are kept apart per device tenant upstream ("<tenant>/<id>", plus an attribute naming
 *      the tenant), deterministically, so a device's retry still deduplicates;
 *   3. what the cloud refuses for good after the relay's ACK is kept per device tenant, readable
 *      by the device (GET /v1/refusals, HTTP Basic with its own credentials), and counted.
 * The pure Relay (its Publisher port called directly, its HTTP handler given a WHATWG Request),
 * its upstream a real WeirClient against the fake gateway (../client/fake-gateway.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, expect, test } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EventResultSchema, ResultCode, type EventResult } from "../../src/gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { envelopeOf, MemoryOutbox, WeirClient, type OutboxEntry } from "../../src/client/index.js";
import { HttpAccessLogSchema } from "../../src/events.js";
import { EventChecker } from "../../src/ingest/check-event.js";
import { envelopeBytes } from "../../src/ingest/envelope-bytes.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { WeirError } from "../../src/errors.js";
import { parseRelayConfig } from "../../src/relay/config.js";
import { DEVICE_TENANT_ATTRIBUTE, deviceEventOf, Relay, upstreamEnvelope, upstreamId, type RelayOptions } from "../../src/relay/relay.js";
import { RefusalLog, type Refusal } from "../../src/relay/refusals.js";
import { FakeGateway, type FakeGatewayOptions } from "../client/fake-gateway.js";
import { accessLog, builtinRegistry, invalidQuoteEvent, quote, quoteEvent } from "../unit-fixtures/events.js";
import { mutatedImage } from "../unit-fixtures/images.js";
import { QuoteSchema } from "../../src/gen/weir/events/v1/market_pb.js";

const QUOTE = "weir.events.v1.Quote";
const UPSTREAM = { tenant: "relay-tenant", apiKey: "up-key" };
const DEVICES = ["plant-1:k1", "plant-2:k:2"];
const dir = mkdtempSync(join(tmpdir(), "weir-relay-edge-"));

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An outbox that records every id it was asked to store. */
class RecordingOutbox extends MemoryOutbox {
  readonly stored: string[] = [];
  override async append(entries: readonly OutboxEntry[]): Promise<void> {
    this.stored.push(...entries.map((e) => e.id));
    return super.append(entries);
  }
}

type Setup = { relay: Relay; upstream: WeirClient; gateway: FakeGateway; outbox: RecordingOutbox; logs: string[] };

/** A relay whose upstream client talks to a fake gateway and hands its final answers to the relay (as deno-main.ts wires it). */
async function setup(config: Record<string, unknown> = {}, gatewayOpts: FakeGatewayOptions = {}, opts: RelayOptions = {}): Promise<Setup> {
  const gateway = await FakeGateway.start(gatewayOpts);
  cleanup.push(() => gateway.close());
  const outbox = new RecordingOutbox();
  let toRelay: (r: EventResult) => void = () => {};
  const upstream = await WeirClient.open({
    urls: gateway.url,
    ...UPSTREAM,
    outbox,
    lingerMs: 1,
    backoff: { initialMs: 10, maxMs: 50 },
    onResult: (r) => toRelay(r),
  });
  cleanup.push(() => upstream.close());
  const logs: string[] = [];
  const relay = new Relay(
    parseRelayConfig({ upstream: { urls: [gateway.url], ...UPSTREAM }, devices: DEVICES, relayId: "relay-edge", ...config }),
    upstream,
    (_level, msg) => void logs.push(msg),
    opts,
  );
  toRelay = (r) => relay.upstreamResult(r);
  return { relay, upstream, gateway, outbox, logs };
}

const answers = (results: readonly EventResult[]) => results.map((r) => ({ id: r.id, code: r.code, errorCode: r.errorCode, reason: r.reason }));

/** What the gateway answers for `env` from `tenant` (its EventChecker, as gateway/gateway.ts builds it), or ACK. */
function gatewayAnswer(checker: EventChecker, env: Envelope, tenant: string, grants?: { publish: string[]; subscribe: string[] }) {
  const checked = checker.check(env, tenant, grants);
  if (checked.ok) return { id: env.id, code: ResultCode.ACK, errorCode: "", reason: "" };
  return { id: env.id, code: checked.error.spec.result!, errorCode: checked.error.code, reason: checked.error.message };
}

function basic(tenant: string, key: string): string {
  return `Basic ${Buffer.from(`${tenant}:${key}`).toString("base64")}`;
}

async function getRefusals(relay: Relay, authorization?: string, query = "", method = "GET"): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await relay.refusalsResponse(
    new Request(`http://relay.test/v1/refusals${query}`, { method, headers: authorization === undefined ? {} : { authorization } }),
  );
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text };
}

// ---- 1. validate at the edge ----

test("each event the gateway's EventChecker refuses gets the gateway's own result, error code and reason, and is never stored", async () => {
  const { relay, upstream, gateway, outbox } = await setup();
  const gatewayChecker = new EventChecker(builtinRegistry(), 256 * 1024);
  const bad: Envelope[] = [
    invalidQuoteEvent("payload-rule"),
    envelopeOf(QuoteSchema, { ...quote, bid: Number.NaN }, { id: "nan-bid" }),
    { ...quoteEvent("not-a-quote"), payload: new Uint8Array([0xff, 0xff, 0xff]) },
    { ...quoteEvent("unknown-type"), type: "weir.events.v1.NoSuchThing" },
    { ...quoteEvent("no-time"), eventTime: undefined },
    quoteEvent("far-future", { eventTimeMs: Date.now() + 2 * 3600_000 }),
    quoteEvent("before-2000", { eventTimeMs: Date.UTC(1999, 0, 1) }),
    quoteEvent("control\u0001char"),
    quoteEvent("attr-name", { attributes: { "bad\u0000name": "x" } }),
    { ...quoteEvent("big"), payload: new Uint8Array(300 * 1024) },
    { ...quoteEvent("other-tenant"), tenant: "plant-2" },
    quoteEvent("x".repeat(129)),
  ];
  const good = [quoteEvent("good-1"), envelopeOf(HttpAccessLogSchema, accessLog, { id: "good-2" })];
  const results = await relay.publish("plant-1", [good[0]!, ...bad, good[1]!]);
  const expected = [good[0]!, ...bad, good[1]!].map((env) => gatewayAnswer(gatewayChecker, env, "plant-1"));
  // The expectations are not all ACK: each bad event is one the gateway refuses, and the relay answers it the same way.
  expect(expected.slice(1, -1).every((a) => a.code !== ResultCode.ACK)).toBe(true);
  expect(new Set(expected.map((a) => a.errorCode))).toEqual(
    new Set(["", "WEIR_ERR_INVALID_PAYLOAD", "WEIR_ERR_UNKNOWN_TYPE", "WEIR_ERR_INVALID_ENVELOPE", "WEIR_ERR_EVENT_TOO_LARGE", "WEIR_ERR_TENANT_MISMATCH"]),
  );
  const big = bad.findIndex((e) => e.id === "big") + 1;
  expect(answers(results).map((a, i) => (i === big ? { ...a, reason: "" } : a))).toEqual(expected.map((a, i) => (i === big ? { ...a, reason: "" } : a)));
  // The size is the envelope the relay forwards (what the gateway will count), and the reason says so.
  const added = envelopeBytes(upstreamEnvelope(bad[big - 1]!, "plant-1")) - envelopeBytes(bad[big - 1]!);
  expect(results[big]!.reason).toBe(
    `event of ${envelopeBytes(bad[big - 1]!) + added} bytes (payload, attributes and ids) exceeds max_event_bytes ${256 * 1024}, counted as forwarded: the relay adds ${added} bytes ("plant-1/" before the id, the ${DEVICE_TENANT_ATTRIBUTE} attribute)`,
  );
  await upstream.flush();
  expect(outbox.stored).toEqual([upstreamId("plant-1", "good-1"), upstreamId("plant-1", "good-2")]);
  expect(gateway.batches.flat().map((e) => e.id)).toEqual(outbox.stored);
  expect(relay.stats).toMatchObject({ received: bad.length + 2, forwarded: 2, refused: bad.length });
  expect(relay.snapshot().relay.refusedByCode).toEqual({
    WEIR_ERR_INVALID_PAYLOAD: 3,
    WEIR_ERR_UNKNOWN_TYPE: 1,
    WEIR_ERR_INVALID_ENVELOPE: 6,
    WEIR_ERR_EVENT_TOO_LARGE: 1,
    WEIR_ERR_TENANT_MISMATCH: 1,
  });
});

test("a type the device's grants do not name is refused UNAUTHORIZED / WEIR_ERR_FORBIDDEN_TYPE, as the gateway does", async () => {
  const { relay, outbox } = await setup();
  const grants = { publish: ["weir.events.v1.HttpAccessLog"], subscribe: [] };
  const [quoteResult, logResult] = await relay.publish("plant-1", [quoteEvent("q"), envelopeOf(HttpAccessLogSchema, accessLog, { id: "l" })], grants);
  expect([quoteResult!.code, quoteResult!.errorCode]).toEqual([ResultCode.UNAUTHORIZED, "WEIR_ERR_FORBIDDEN_TYPE"]);
  expect(logResult!.code).toBe(ResultCode.ACK);
  expect(outbox.stored).toEqual([upstreamId("plant-1", "l")]);
});

test("schemaImage: the relay knows the event types of that image and no others (the gateway's WEIR_SCHEMA_IMAGE)", async () => {
  // The built-in image without its market types (Quote, Trade).
  const image = join(dir, "no-market.binpb");
  writeFileSync(
    image,
    mutatedImage((set) => void (set.file = set.file.filter((f) => f.name !== "weir/events/v1/market.proto"))),
  );
  const { relay, outbox } = await setup({ schemaImage: image });
  const [q, l] = await relay.publish("plant-1", [quoteEvent("q"), envelopeOf(HttpAccessLogSchema, accessLog, { id: "l" })]);
  expect([q!.code, q!.errorCode, q!.reason]).toEqual([ResultCode.UNKNOWN_TYPE, "WEIR_ERR_UNKNOWN_TYPE", `unknown event type ${QUOTE}`]);
  expect(l!.code).toBe(ResultCode.ACK);
  expect(outbox.stored).toEqual([upstreamId("plant-1", "l")]);

  // Without the setting: the built-in types, as the gateway.
  const builtin = await setup();
  expect((await builtin.relay.publish("plant-1", [quoteEvent("q")]))[0]!.code).toBe(ResultCode.ACK);

  // An image that cannot be loaded stops the relay, naming the file.
  const notAnImage = join(dir, "not-an-image.binpb");
  writeFileSync(notAnImage, "not a FileDescriptorSet");
  expect(
    () => new Relay(parseRelayConfig({ upstream: { urls: ["ws://127.0.0.1:9"], ...UPSTREAM }, devices: DEVICES, schemaImage: notAnImage }), builtin.upstream),
  ).toThrow(expect.objectContaining({ code: "WEIR_ERR_SCHEMA_IMAGE", message: expect.stringContaining(notAnImage) as string }));
  expect(
    () =>
      new Relay(
        parseRelayConfig({ upstream: { urls: ["ws://127.0.0.1:9"], ...UPSTREAM }, devices: DEVICES, schemaImage: join(dir, "missing") }),
        builtin.upstream,
      ),
  ).toThrow(WeirError);
});

test("a registry given to the relay is the one it checks against (deno-main.ts passes the image it read)", async () => {
  const registry = SchemaRegistry.fromImage(
    mutatedImage((set) => void (set.file = set.file.filter((f) => f.name !== "weir/events/v1/access_log.proto"))),
    "test image",
  );
  const { relay } = await setup({}, {}, { registry });
  const [q, l] = await relay.publish("plant-1", [quoteEvent("q"), envelopeOf(HttpAccessLogSchema, accessLog, { id: "l" })]);
  expect(q!.code).toBe(ResultCode.ACK);
  expect(l!.errorCode).toBe("WEIR_ERR_UNKNOWN_TYPE");
});

test("maxFutureSkewMs bounds event times at the relay as WEIR_MAX_FUTURE_SKEW_MS does at the gateway", async () => {
  const now = Date.UTC(2030, 0, 1);
  const { relay } = await setup({ maxFutureSkewMs: 1000 }, {}, { clock: { wallMs: () => now } });
  const results = await relay.publish("plant-1", [quoteEvent("in", { eventTimeMs: now + 1000 }), quoteEvent("out", { eventTimeMs: now + 1001 })]);
  expect(results.map((r) => r.code)).toEqual([ResultCode.ACK, ResultCode.INVALID]);
  expect(results[1]!.reason).toMatch(/event_time: must not be more than 1000 ms in the future/);
});

// ---- 2. device ids kept apart upstream ----

test("two device tenants using the same id: both ACKed, both forwarded as <tenant>/<id>, both ACKed upstream (no DUPLICATE)", async () => {
  const { relay, upstream, gateway } = await setup();
  const [one] = await relay.publish("plant-1", [quoteEvent("reading-1")]);
  const [two] = await relay.publish("plant-2", [quoteEvent("reading-1")]);
  expect([one!.id, one!.code, two!.id, two!.code]).toEqual(["reading-1", ResultCode.ACK, "reading-1", ResultCode.ACK]);
  await upstream.flush();
  const forwarded = gateway.batches.flat();
  expect(forwarded.map((e) => [e.id, e.tenant, e.attributes[DEVICE_TENANT_ATTRIBUTE]])).toEqual([
    ["plant-1/reading-1", "", "plant-1"],
    ["plant-2/reading-1", "", "plant-2"],
  ]);
  // The fake deduplicates by id as the gateway does by (relay tenant, id): neither is a DUPLICATE.
  expect(upstream.stats).toMatchObject({ acked: 2, duplicates: 0, refused: 0 });
  expect(relay.stats.forwarded).toBe(2);
});

test("a device's retry of an id is the same upstream id: deduplicated upstream, not a second event", async () => {
  const { relay, upstream, gateway } = await setup();
  const e = quoteEvent("once", { partitionKey: "ACME", attributes: { site: "north" } });
  expect((await relay.publish("plant-1", [e]))[0]!.code).toBe(ResultCode.ACK);
  await upstream.flush();
  // The device never saw its ACK and sends the event again, after the cloud took it.
  expect((await relay.publish("plant-1", [e]))[0]!.code).toBe(ResultCode.ACK);
  await upstream.flush();
  expect(gateway.batches.flat().map((x) => x.id)).toEqual(["plant-1/once", "plant-1/once"]);
  expect([...gateway.acked]).toEqual(["plant-1/once"]);
  expect(upstream.stats).toMatchObject({ acked: 1, duplicates: 1 });
  // Everything else travels unchanged.
  const sent = gateway.batches.flat()[0]!;
  expect(sent).toMatchObject({ type: QUOTE, partitionKey: "ACME", attributes: { site: "north", [DEVICE_TENANT_ATTRIBUTE]: "plant-1" } });
  expect(sent.payload).toEqual(e.payload);
  expect(sent.eventTime).toEqual(e.eventTime);
});

test("upstreamId / deviceEventOf: the first '/' splits, so a device id may contain '/'", () => {
  expect(upstreamId("plant-1", "a/b")).toBe("plant-1/a/b");
  expect(deviceEventOf("plant-1/a/b")).toEqual({ tenant: "plant-1", id: "a/b" });
  expect(deviceEventOf("legacy-id")).toBeUndefined();
  const env = quoteEvent("x", { attributes: { k: "v" } });
  const up = upstreamEnvelope({ ...env, tenant: "plant-1" }, "plant-1");
  expect(up).toMatchObject({ id: "plant-1/x", tenant: "", attributes: { k: "v", [DEVICE_TENANT_ATTRIBUTE]: "plant-1" } });
  expect(env.attributes).toEqual({ k: "v" });
});

test("what the relay adds must still pass the gateway's envelope rules: id room, 15 attributes, its attribute reserved", async () => {
  const { relay, upstream, gateway } = await setup();
  const room = 128 - "plant-1/".length;
  const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`a${i}`, "v"]));
  const fifteen = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`a${i}`, "v"]));
  const results = await relay.publish("plant-1", [
    quoteEvent("i".repeat(room)),
    quoteEvent("j".repeat(room + 1)),
    quoteEvent("fifteen", { attributes: fifteen }),
    quoteEvent("sixteen", { attributes: sixteen }),
    quoteEvent("spoof", { attributes: { [DEVICE_TENANT_ATTRIBUTE]: "plant-2" } }),
  ]);
  expect(results.map((r) => [r.code, r.errorCode])).toEqual([
    [ResultCode.ACK, ""],
    [ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
    [ResultCode.ACK, ""],
    [ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
    [ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
  ]);
  expect(results[1]!.reason).toContain(`id: at most ${room} characters for tenant plant-1 through a relay`);
  expect(results[3]!.reason).toContain(`attributes: at most 15 through a relay, which adds ${DEVICE_TENANT_ATTRIBUTE}`);
  expect(results[4]!.reason).toContain(`attributes: ${DEVICE_TENANT_ATTRIBUTE} is set by the relay`);
  await upstream.flush();
  // What was forwarded passes the gateway's own check, as the relay's upstream tenant.
  const checker = new EventChecker(builtinRegistry(), 256 * 1024);
  const forwarded = gateway.batches.flat();
  expect(forwarded.map((e) => e.id)).toEqual([`plant-1/${"i".repeat(room)}`, "plant-1/fifteen"]);
  for (const env of forwarded) expect(checker.check(env, UPSTREAM.tenant).ok).toBe(true);
});

test("a device tenant may not contain '/' (the upstream id's separator) or control characters", () => {
  const base = { upstream: { urls: ["ws://127.0.0.1:9"], ...UPSTREAM } };
  expect(() => parseRelayConfig({ ...base, devices: ["plant/1:k"] })).toThrow('relay.json: devices[0]: tenant "plant/1" must not contain "/"');
  expect(() => parseRelayConfig({ ...base, devices: ["ok:k", "pl\u0001ant:k"] })).toThrow("relay.json: devices[1]: tenant");
  expect(() => parseRelayConfig({ ...base, devices: ["ok:k/with/slashes"] })).not.toThrow();
});

// ---- 3. upstream refusals reported to the device ----

/** A fake gateway that refuses, for good, events whose device id starts with "forbidden". */
const refusingGateway: FakeGatewayOptions = {
  answer: (env) =>
    deviceEventOf(env.id)?.id.startsWith("forbidden")
      ? { code: ResultCode.UNAUTHORIZED, errorCode: "WEIR_ERR_FORBIDDEN_TYPE", reason: `tenant relay-tenant may not publish ${env.type}` }
      : deviceEventOf(env.id)?.id.startsWith("dead")
        ? { code: ResultCode.INVALID, errorCode: "WEIR_ERR_INVALID_PAYLOAD", reason: "invalid upstream" }
        : undefined,
};

test("an event the upstream refuses for good after the relay ACKed it is kept for its device tenant and counted per error code", async () => {
  const before = Date.now();
  const { relay, upstream, logs } = await setup({}, refusingGateway);
  const one = await relay.publish("plant-1", [quoteEvent("fine-1"), quoteEvent("forbidden-1"), quoteEvent("dead-1")]);
  const two = await relay.publish("plant-2", [quoteEvent("forbidden-2"), quoteEvent("fine-2")]);
  // The relay could not know: every event was ACKed (stored).
  expect([...one, ...two].map((r) => r.code)).toEqual(Array(5).fill(ResultCode.ACK));
  // A retry of an acked one is a DUPLICATE upstream: not a refusal.
  await upstream.flush();
  await relay.publish("plant-1", [quoteEvent("fine-1")]);
  await upstream.flush();
  expect(upstream.stats).toMatchObject({ acked: 2, duplicates: 1, refused: 3 });

  const plant1 = relay.refusals.list("plant-1");
  expect(plant1.map((r) => [r.id, r.errorCode, r.reason])).toEqual([
    ["forbidden-1", "WEIR_ERR_FORBIDDEN_TYPE", `tenant relay-tenant may not publish ${QUOTE}`],
    ["dead-1", "WEIR_ERR_INVALID_PAYLOAD", "invalid upstream"],
  ]);
  expect(plant1.every((r) => r.atMs >= before && r.atMs <= Date.now())).toBe(true);
  expect(relay.refusals.list("plant-2").map((r) => r.id)).toEqual(["forbidden-2"]);
  expect(relay.stats).toMatchObject({ upstreamRefused: 3, upstreamRefusedByCode: { WEIR_ERR_FORBIDDEN_TYPE: 2, WEIR_ERR_INVALID_PAYLOAD: 1 } });
  expect(relay.snapshot().relay).toMatchObject({ upstreamRefused: 3, refusalLog: { tenants: 2, evicted: 0 } });
  expect(logs.filter((m) => m === "upstream refused an event")).toHaveLength(3);
});

test("GET /v1/refusals: a device reads its own tenant's refusals with its credentials (HTTP Basic), nobody else's", async () => {
  const { relay, upstream } = await setup({}, refusingGateway);
  await relay.publish("plant-1", [quoteEvent("forbidden-a"), quoteEvent("ok")]);
  await relay.publish("plant-2", [quoteEvent("forbidden-b")]);
  await upstream.flush();

  const mine = await getRefusals(relay, basic("plant-1", "k1"));
  expect(mine.status).toBe(200);
  expect(mine.headers.get("cache-control")).toBe("no-store");
  expect((mine.body as Refusal[]).map((r) => Object.keys(r).sort())).toEqual([["atMs", "errorCode", "id", "reason"]]);
  expect(mine.body).toMatchObject([{ id: "forbidden-a", errorCode: "WEIR_ERR_FORBIDDEN_TYPE" }]);
  // A key with ':' in it.
  expect((await getRefusals(relay, basic("plant-2", "k:2"))).body).toMatchObject([{ id: "forbidden-b" }]);

  for (const auth of [undefined, basic("plant-1", "k:2"), basic("plant-9", "k1"), basic("", ""), "Basic !!!", "Bearer k1", `Basic ${btoa("plant-1")}`]) {
    const res = await getRefusals(relay, auth);
    expect(res.status, String(auth)).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="weir-relay"/);
  }
  expect((await getRefusals(relay, basic("plant-1", "k1"), "", "POST")).status).toBe(405);
  expect((await getRefusals(relay, basic("plant-1", "k1"), "?sinceMs=soon")).status).toBe(400);
  expect((await getRefusals(relay, basic("plant-1", "k1"), "?sinceMs=")).status).toBe(400);

  // sinceMs: refusals at or after it, so a device polls with the last atMs it has.
  const at = (mine.body as Refusal[])[0]!.atMs;
  expect((await getRefusals(relay, basic("plant-1", "k1"), `?sinceMs=${at}`)).body).toHaveLength(1);
  expect((await getRefusals(relay, basic("plant-1", "k1"), `?sinceMs=${at + 1}`)).body).toEqual([]);
});

test("the refusal log is bounded: the last perTenant per device tenant, at most maxTenants tenants (least recently refused forgotten)", async () => {
  const { relay, upstream } = await setup({ refusalLog: { perTenant: 3, maxTenants: 1 } }, refusingGateway);
  await relay.publish(
    "plant-1",
    Array.from({ length: 5 }, (_, i) => quoteEvent(`forbidden-${i}`)),
  );
  await upstream.flush();
  expect(relay.refusals.list("plant-1").map((r) => r.id)).toEqual(["forbidden-2", "forbidden-3", "forbidden-4"]);
  await relay.publish("plant-2", [quoteEvent("forbidden-x")]);
  await upstream.flush();
  expect(relay.refusals.list("plant-1")).toEqual([]);
  expect(relay.refusals.list("plant-2").map((r) => r.id)).toEqual(["forbidden-x"]);
  expect(relay.snapshot().relay.refusalLog).toEqual({ tenants: 1, evicted: 5 });
  expect(relay.stats.upstreamRefused).toBe(6);
});

test("RefusalLog: bounds per tenant and in tenants; a tenant refused again becomes the most recent", () => {
  const log = new RefusalLog(2, 2);
  const r = (id: string, atMs = 1): Refusal => ({ id, errorCode: "E", reason: "", atMs });
  log.add("a", r("a1"));
  log.add("b", r("b1"));
  log.add("a", r("a2"));
  log.add("c", r("c1"));
  // b was refused longest ago: forgotten.
  expect([log.list("a").map((x) => x.id), log.list("b"), log.list("c").map((x) => x.id)]).toEqual([["a1", "a2"], [], ["c1"]]);
  log.add("a", r("a3", 5));
  expect(log.list("a").map((x) => x.id)).toEqual(["a2", "a3"]);
  expect(log.list("a", 5).map((x) => x.id)).toEqual(["a3"]);
  expect(log.evicted).toBe(2);
  expect(log.tenants).toBe(2);
});

test("an upstream refusal of an id without a configured device tenant is counted and logged, kept for nobody", () => {
  const relay = new Relay(parseRelayConfig({ upstream: { urls: ["ws://127.0.0.1:9"], ...UPSTREAM }, devices: DEVICES }), {} as WeirClient);
  const refusal = (id: string) => create(EventResultSchema, { id, code: ResultCode.INVALID, errorCode: "WEIR_ERR_INVALID_PAYLOAD", reason: "r" });
  relay.upstreamResult(refusal("legacy-id"));
  relay.upstreamResult(refusal("plant-9/x"));
  relay.upstreamResult(create(EventResultSchema, { id: "plant-1/ok", code: ResultCode.ACK }));
  relay.upstreamResult(create(EventResultSchema, { id: "plant-1/dup", code: ResultCode.DUPLICATE }));
  relay.upstreamResult(create(EventResultSchema, { id: "plant-1/no-code", code: ResultCode.TOO_LARGE }));
  expect(relay.stats).toMatchObject({ upstreamRefused: 3, upstreamRefusedByCode: { WEIR_ERR_INVALID_PAYLOAD: 2, TOO_LARGE: 1 } });
  expect(relay.refusals.tenants).toBe(1);
  expect(relay.refusals.list("plant-1")).toMatchObject([{ id: "no-code", errorCode: "TOO_LARGE" }]);
});
