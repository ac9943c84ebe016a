/**
 * The Relay class end to end on Node: devices (IngestClient, or a raw `ws` socket for frames the
 * client does not surface) connect to a `ws` server whose sockets go to relay.accept(); the relay's
 * upstream is a real WeirClient against the fake gateway (../client/fake-gateway.ts).
 */
import { afterEach, expect, test, vi } from "vitest";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import WebSocketNode, { WebSocketServer } from "ws";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "../../src/gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import {
  ConnectionClosedError,
  IngestClient,
  MemoryOutbox,
  ResultCode,
  WeirClient,
  type EventResult,
  type OutboxEntry,
  type WeirClientOptions,
} from "../../src/client/index.js";
import { parseRelayConfig } from "../../src/relay/config.js";
import { DEVICE_TENANT_ATTRIBUTE, Relay, upstreamEnvelope } from "../../src/relay/relay.js";
import { FakeGateway, type FakeGatewayOptions } from "../client/fake-gateway.js";
import { quoteEvent } from "../unit-fixtures/events.js";
import { envelopeBytes } from "../../src/ingest/envelope-bytes.js";
import { waitFor } from "../unit-fixtures/wait-for.js";

const QUOTE = "weir.events.v1.Quote";
const UPSTREAM = { tenant: "relay-tenant", apiKey: "up-key" };
const DEVICES = ["plant-1:k1", "plant-2:k:2"];

const cleanup: Array<() => unknown> = [];
/** Gated outboxes, opened first when a test ends (a client's close() waits for its pending write). */
const gates: GatedOutbox[] = [];
afterEach(async () => {
  for (const g of gates.splice(0)) g.open();
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function gateway(opts: FakeGatewayOptions = {}): Promise<FakeGateway> {
  const g = await FakeGateway.start(opts);
  cleanup.push(() => g.close());
  return g;
}

/** A gateway URL nobody listens on (yet): a fake gateway started and closed again; its port, to start one there later. */
async function deadGateway(): Promise<{ url: string; port: number }> {
  const g = await FakeGateway.start();
  await g.close();
  return { url: g.url, port: Number(new URL(g.url).port) };
}

/** An outbox whose appends wait for open() (and record what they were given). */
class GatedOutbox extends MemoryOutbox {
  readonly appends: OutboxEntry[][] = [];
  constructor() {
    super();
    gates.push(this);
  }
  private opened!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.opened = resolve));
  fail: Error | undefined;
  override async append(entries: readonly OutboxEntry[]): Promise<void> {
    this.appends.push([...entries]);
    await this.gate;
    if (this.fail) throw this.fail;
    return super.append(entries);
  }
  open(): void {
    this.opened();
  }
}

type Setup = {
  relay: Relay;
  upstream: WeirClient;
  /** ws://…/v1/ingest of the relay. */
  url: string;
  logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>;
};

/** A relay on a free port, its upstream client connecting to `upstreamUrl`. */
async function relay(upstreamUrl: string, config: Record<string, unknown> = {}, client: Partial<WeirClientOptions> = {}): Promise<Setup> {
  const upstream = await WeirClient.open({ urls: upstreamUrl, ...UPSTREAM, lingerMs: 2, backoff: { initialMs: 10, maxMs: 50 }, ...client });
  cleanup.push(() => upstream.close());
  const logs: Setup["logs"] = [];
  const r = new Relay(
    parseRelayConfig({ upstream: { urls: [upstreamUrl], ...UPSTREAM }, devices: DEVICES, relayId: "relay-test", ...config }),
    upstream,
    (level, msg, fields) => void logs.push({ level, msg, ...(fields ? { fields } : {}) }),
  );
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((resolve) => server.once("listening", resolve));
  server.on("connection", (ws) => r.accept(ws as unknown as WebSocket));
  cleanup.push(async () => {
    // ws's close() leaves open connections alone: end them (the relay clears its Hello timers on close).
    for (const ws of server.clients) ws.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  return { relay: r, upstream, url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/v1/ingest`, logs };
}

async function device(url: string, tenant = "plant-1", apiKey = "k1"): Promise<IngestClient> {
  const d = await IngestClient.connect({ url, tenant, apiKey });
  cleanup.push(() => d.close());
  return d;
}

/** A raw socket to the relay: every server frame it got, and its close. */
async function raw(url: string): Promise<{
  ws: WebSocketNode;
  frames: Array<ServerFrame["frame"]>;
  closed: Promise<{ code: number; reason: string }>;
  send(frame: MessageInitShape<typeof ClientFrameSchema>): void;
}> {
  const ws = new WebSocketNode(url);
  cleanup.push(() => ws.terminate());
  const frames: Array<ServerFrame["frame"]> = [];
  ws.on("message", (data: Buffer) => frames.push(fromBinary(ServerFrameSchema, new Uint8Array(data)).frame));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  return { ws, frames, closed, send: (frame) => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame))) };
}

const hello = (tenant = "plant-1", apiKey = "k1", protocolVersion = 1): MessageInitShape<typeof ClientFrameSchema> => ({
  frame: { case: "hello", value: { protocolVersion, tenant, apiKey, clientId: "raw" } },
});

const quotes = (n: number, prefix: string, opts: Parameters<typeof quoteEvent>[1] = {}) =>
  Array.from({ length: n }, (_, i) => quoteEvent(`${prefix}-${i}`, opts));
const ids = (events: readonly Envelope[]) => events.map((e) => e.id);
const codes = (results: readonly EventResult[]) => results.map((r) => r.code);
/** A device's event id as the relay forwards it: "<device tenant>/<id>" (relay.ts, upstreamId). */
const up = (id: string, tenant = "plant-1") => `${tenant}/${id}`;
/** What the fake gateway got, as the devices' own ids (the device tenant prefix taken off). */
const received = (g: FakeGateway) => ids(g.batches.flat()).map((id) => id.slice(id.indexOf("/") + 1));

/** The ProtocolError and close a connection refused at Hello ended with. */
async function refusedAtHello(url: string, tenant: string, apiKey: string): Promise<ConnectionClosedError> {
  const err = await IngestClient.connect({ url, tenant, apiKey }).then(
    (d) => (cleanup.push(() => d.close()), new Error("the relay welcomed the device")),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectionClosedError);
  return err as ConnectionClosedError;
}

// ---- connection refusals ----

test("a bad device key or an unknown tenant: ProtocolError WEIR_ERR_UNAUTHORIZED, close 4401", async () => {
  const g = await gateway();
  const { url, relay: r } = await relay(g.url);
  for (const [tenant, key] of [
    ["plant-1", "wrong"],
    ["plant-1", "k2"],
    ["plant-2", "k"],
    ["plant-9", "k1"],
    ["", ""],
  ] as const) {
    const { info } = await refusedAtHello(url, tenant, key);
    expect(info, `${tenant}:${key}`).toMatchObject({ code: 4401, error: { errorCode: "WEIR_ERR_UNAUTHORIZED", closeCode: 4401 } });
  }
  expect(r.stats.devices).toBe(0);
  // The right keys, including one with a ':' inside, are welcomed.
  await device(url, "plant-1", "k1");
  await device(url, "plant-2", "k:2");
  expect(r.stats.devices).toBe(2);
});

test("the Welcome carries the relay's id and limits; devices are counted while connected", async () => {
  const g = await gateway();
  const { url, relay: r } = await relay(g.url, { credit: 7, maxBatchEvents: 3, maxEventBytes: 4096 });
  const d = await device(url);
  expect(d.welcome).toMatchObject({ credit: 7, maxBatchEvents: 3, maxEventBytes: 4096, gatewayId: "relay-test" });
  expect(d.welcome.sessionId).not.toBe("");
  expect(d.welcome.maxFrameBytes).toBeGreaterThanOrEqual(3 * 4096);
  expect(r.stats.devices).toBe(1);
  await d.close();
  await waitFor(() => r.stats.devices === 0, "the device to be gone");
});

test("a first frame other than Hello: 4403 WEIR_ERR_HELLO_REQUIRED", async () => {
  const g = await gateway();
  const { url } = await relay(g.url);
  const frames: Array<MessageInitShape<typeof ClientFrameSchema>> = [
    { frame: { case: "publish", value: { seq: 1n, events: [quoteEvent("a")] } } },
    { frame: { case: "ping", value: { nonce: 1n } } },
  ];
  for (const frame of frames) {
    const s = await raw(url);
    s.send(frame);
    expect(await s.closed).toEqual({ code: 4403, reason: "WEIR_ERR_HELLO_REQUIRED" });
    expect(s.frames).toMatchObject([{ case: "error", value: { errorCode: "WEIR_ERR_HELLO_REQUIRED", closeCode: 4403 } }]);
  }
  expect(received(g)).toEqual([]);
});

test("a Hello with another protocol version: 4426 WEIR_ERR_UNSUPPORTED_VERSION", async () => {
  const g = await gateway();
  const { url } = await relay(g.url);
  const s = await raw(url);
  s.send(hello("plant-1", "k1", 2));
  expect((await s.closed).code).toBe(4426);
  expect(s.frames).toMatchObject([{ case: "error", value: { errorCode: "WEIR_ERR_UNSUPPORTED_VERSION", closeCode: 4426 } }]);
});

test("a text frame, or bytes that are no frame: 4400 WEIR_ERR_BAD_FRAME", async () => {
  const g = await gateway();
  const { url } = await relay(g.url);
  const d = await device(url);
  d.sendRaw("hello");
  expect(await d.closed).toMatchObject({ code: 4400, error: { errorCode: "WEIR_ERR_BAD_FRAME", closeCode: 4400 } });
  // Before Hello too.
  const s = await raw(url);
  s.ws.send(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  expect((await s.closed).code).toBe(4400);
  expect(s.frames).toMatchObject([{ case: "error", value: { errorCode: "WEIR_ERR_BAD_FRAME" } }]);
  // A second Hello is not a frame a session expects.
  const again = await device(url);
  again.send(hello());
  expect(await again.closed).toMatchObject({ code: 4400, error: { errorCode: "WEIR_ERR_BAD_FRAME" } });
});

test("a batch over the device's credit: 4429 WEIR_ERR_CREDIT_EXCEEDED; credit is spent until the batch is answered", async () => {
  const g = await gateway();
  const outbox = new GatedOutbox();
  const { url } = await relay(g.url, { credit: 5 }, { outbox });
  const over = await device(url);
  over.send({ frame: { case: "publish", value: { seq: 1n, events: quotes(6, "over") } } });
  expect(await over.closed).toMatchObject({ code: 4429, error: { errorCode: "WEIR_ERR_CREDIT_EXCEEDED", closeCode: 4429 } });

  // 3 events are not answered yet (the outbox holds the write): 2 credits left, so 3 more is too many.
  const d = await device(url);
  const first = d.publish(quotes(3, "a"));
  first.catch(() => {});
  // (The client's group commit: the first event's write is held, the other two wait for it.)
  await waitFor(() => outbox.appends.length === 1, "the first write at the outbox");
  d.send({ frame: { case: "publish", value: { seq: 99n, events: quotes(3, "b") } } });
  expect(await d.closed).toMatchObject({ code: 4429, error: { errorCode: "WEIR_ERR_CREDIT_EXCEEDED" } });
  outbox.open();
  expect(received(g)).not.toContain("b-0");
});

test("answered batches return their credit: a device can keep sending full-credit batches", async () => {
  const g = await gateway();
  const { url } = await relay(g.url, { credit: 5 });
  const d = await device(url);
  for (let round = 0; round < 4; round++) {
    const results = await d.publish(quotes(5, `r${round}`));
    expect(codes(results)).toEqual(Array(5).fill(ResultCode.ACK));
  }
  await waitFor(() => g.acked.size === 20, "20 events upstream");
});

test("a batch over maxBatchEvents: 4413 WEIR_ERR_BATCH_TOO_LARGE", async () => {
  const g = await gateway();
  const { url, relay: r } = await relay(g.url, { maxBatchEvents: 4 });
  const d = await device(url);
  d.send({ frame: { case: "publish", value: { seq: 1n, events: quotes(5, "big") } } });
  expect(await d.closed).toMatchObject({ code: 4413, error: { errorCode: "WEIR_ERR_BATCH_TOO_LARGE", closeCode: 4413 } });
  expect(r.stats.received).toBe(0);
  expect(received(g)).toEqual([]);
});

test("no Hello within 10 s: 4408 WEIR_ERR_HELLO_TIMEOUT; a welcomed device is not timed out", async () => {
  const g = await gateway();
  const { url, upstream } = await relay(g.url);
  await waitFor(() => upstream.stats.connectedTo !== undefined, "the upstream connection");
  // The relay's Hello timer, caught on its way to the real setTimeout (10 s is too long to wait for).
  const spy = vi.spyOn(globalThis, "setTimeout");
  cleanup.push(() => spy.mockRestore());
  const helloTimers = () => spy.mock.calls.filter(([, ms]) => ms === 10_000).map(([fn]) => fn);

  const silent = await raw(url);
  await waitFor(() => helloTimers().length === 1, "the Hello timer of the silent socket");
  helloTimers()[0]!();
  expect(await silent.closed).toEqual({ code: 4408, reason: "WEIR_ERR_HELLO_TIMEOUT" });
  expect(silent.frames).toMatchObject([{ case: "error", value: { errorCode: "WEIR_ERR_HELLO_TIMEOUT", closeCode: 4408 } }]);

  const polite = await raw(url);
  await waitFor(() => helloTimers().length === 2, "the Hello timer of the second socket");
  polite.send(hello());
  await waitFor(() => polite.frames.length === 1, "the Welcome");
  helloTimers()[1]!();
  polite.send({ frame: { case: "ping", value: { nonce: 1n } } });
  await waitFor(() => polite.frames.length === 2, "the Pong");
  expect(polite.frames.map((f) => f.case)).toEqual(["welcome", "pong"]);
  expect(polite.ws.readyState).toBe(WebSocketNode.OPEN);
});

// ---- forwarding ----

test("events are ACKed and reach the upstream exactly once each, in order per device", async () => {
  const g = await gateway();
  const { url, relay: r, upstream } = await relay(g.url, { credit: 20, maxBatchEvents: 10 });
  const a = await device(url, "plant-1", "k1");
  const b = await device(url, "plant-2", "k:2");
  const fromA = quotes(60, "a");
  const fromB = quotes(45, "b", { partitionKey: "ACME" });
  // Several publish calls per device, the two devices interleaved.
  const results = await Promise.all([a.publish(fromA.slice(0, 25)), b.publish(fromB.slice(0, 20)), a.publish(fromA.slice(25)), b.publish(fromB.slice(20))]);
  expect(results.flat().map((res) => [res.id, res.code])).toEqual(
    [...fromA.slice(0, 25), ...fromB.slice(0, 20), ...fromA.slice(25), ...fromB.slice(20)].map((e) => [e.id, ResultCode.ACK]),
  );
  await upstream.flush();
  const got = received(g);
  expect(got).toHaveLength(105);
  expect(new Set(got).size).toBe(105);
  expect(got.filter((id) => id.startsWith("a-"))).toEqual(ids(fromA));
  expect(got.filter((id) => id.startsWith("b-"))).toEqual(ids(fromB));
  expect([...g.attempts.values()].every((n) => n === 1)).toBe(true);
  // The events go on with their id qualified by the device tenant, which an attribute names; otherwise unchanged.
  const upB = g.batches.flat().find((e) => e.id === up("b-3", "plant-2"))!;
  expect(upB.partitionKey).toBe("ACME");
  expect(upB.payload).toEqual(fromB[3]!.payload);
  expect(upB.attributes).toEqual({ ...fromB[3]!.attributes, [DEVICE_TENANT_ATTRIBUTE]: "plant-2" });
  expect(r.stats).toMatchObject({ received: 105, forwarded: 105, dropped: 0, refused: 0 });
  expect(upstream.stats).toMatchObject({ acked: 105, unanswered: 0 });
});

test("ACK means stored: the device waits for the upstream outbox's write, not a moment less", async () => {
  const g = await gateway();
  const outbox = new GatedOutbox();
  const { url } = await relay(g.url, { rules: [{ match: { attributes: { debug: "1" } }, action: "drop" }] }, { outbox });
  const d = await device(url);
  let answered = false;
  const stored = d.publish(quotes(3, "s")).then((res) => ((answered = true), res));
  await waitFor(() => outbox.appends.length === 1, "the first write at the outbox");
  // A later batch the relay answers without the outbox: its answer comes back while the first batch waits.
  const dropped = await d.publish([quoteEvent("dbg", { attributes: { debug: "1" } })]);
  expect(codes(dropped)).toEqual([ResultCode.ACK]);
  expect(answered).toBe(false);
  expect(received(g)).toEqual([]);
  outbox.open();
  expect(codes(await stored)).toEqual(Array(3).fill(ResultCode.ACK));
  await waitFor(() => g.acked.size === 3, "the events upstream");
});

test("the upstream unreachable: devices still get ACK (the events wait in the outbox), and all arrive once it is back", async () => {
  const dead = await deadGateway();
  const failures: string[] = [];
  const { url, upstream, relay: r } = await relay(dead.url, {}, { onConnection: (e) => e.kind === "connect-failed" && failures.push(e.error) });
  const a = await device(url, "plant-1", "k1");
  const b = await device(url, "plant-2", "k:2");
  const fromA = quotes(30, "a");
  const fromB = quotes(20, "b");
  const results = await Promise.all([a.publish(fromA.slice(0, 10)), b.publish(fromB), a.publish(fromA.slice(10))]);
  expect(codes(results.flat())).toEqual(Array(50).fill(ResultCode.ACK));
  expect(upstream.stats).toMatchObject({ unanswered: 50, acked: 0, connectedTo: undefined });
  expect(r.stats.forwarded).toBe(50);
  await waitFor(() => failures.length >= 2, "failed upstream connection attempts");

  // The gateway comes back on the same address.
  const g = await gateway({ port: dead.port });
  await upstream.flush();
  const got = received(g);
  expect(got).toHaveLength(50);
  expect(new Set(got).size).toBe(50);
  expect(got.filter((id) => id.startsWith("a-"))).toEqual(ids(fromA));
  expect(got.filter((id) => id.startsWith("b-"))).toEqual(ids(fromB));
  expect(upstream.stats).toMatchObject({ unanswered: 0, acked: 50, duplicates: 0 });
});

test("the upstream holding its answers: devices get ACK at once; a dropped upstream connection re-sends, deduplicated", async () => {
  const g = await gateway({ hold: true });
  const { url, upstream } = await relay(g.url);
  const d = await device(url);
  const events = quotes(40, "h");
  expect(codes(await d.publish(events))).toEqual(Array(40).fill(ResultCode.ACK));
  await waitFor(() => received(g).length === 40, "the events at the gateway");
  expect(upstream.stats.unanswered).toBe(40);
  expect(g.acked.size).toBe(0);

  // The gateway crashes before answering; the client re-sends the same ids on its next connection.
  g.kill();
  await waitFor(() => received(g).length === 80, "the events re-sent");
  while (upstream.stats.unanswered > 0) {
    g.release();
    await new Promise((r) => setTimeout(r, 5));
  }
  // Once each in the gateway's acks: a re-send of an acked id is a DUPLICATE, not a second event.
  expect([...g.acked].sort()).toEqual(
    ids(events)
      .map((id) => up(id))
      .sort(),
  );
  expect(upstream.stats.acked + upstream.stats.duplicates).toBe(40);
});

test("devices are held back when the upstream outbox is full (maxBufferedEvents), and go on once it drains", async () => {
  const dead = await deadGateway();
  const { url, upstream } = await relay(
    dead.url,
    { credit: 100, rules: [{ match: { attributes: { debug: "1" } }, action: "drop" }] },
    { maxBufferedEvents: 5 },
  );
  const d = await device(url);
  const answered: string[] = [];
  const pending = quotes(8, "bp").map((e) => d.publish([e]).then((res) => (answered.push(e.id), res)));
  await waitFor(() => answered.length === 5, "five events stored");
  // A later batch the relay answers at once: by its answer, the relay has seen all eight.
  expect(codes(await d.publish([quoteEvent("dbg", { attributes: { debug: "1" } })]))).toEqual([ResultCode.ACK]);
  expect(answered).toEqual(ids(quotes(5, "bp")));
  expect(upstream.stats.unanswered).toBe(5);
  const g = await gateway({ port: dead.port });
  const results = (await Promise.all(pending)).flat();
  expect(codes(results)).toEqual(Array(8).fill(ResultCode.ACK));
  await upstream.flush();
  expect(received(g).sort()).toEqual(ids(quotes(8, "bp")).sort());
});

// ---- rules ----

test("drop rule: dropped events are ACKed with a reason, counted, and never reach the upstream", async () => {
  const g = await gateway();
  const rules = [
    { match: { type: QUOTE, attributes: { venue: "test" } }, action: "drop" },
    { match: { attributes: { debug: "1" } }, action: "drop" },
  ];
  const { url, relay: r, upstream } = await relay(g.url, { rules });
  const d = await device(url);
  const events = [
    quoteEvent("keep-1"),
    quoteEvent("test-1", { attributes: { venue: "test" } }),
    quoteEvent("dbg-1", { attributes: { debug: "1" } }),
    quoteEvent("keep-2", { attributes: { venue: "prod", debug: "0" } }),
    quoteEvent("test-2", { attributes: { venue: "test", debug: "1" } }),
  ];
  const results = await d.publish(events);
  expect(results.map((res) => [res.id, res.code])).toEqual(ids(events).map((id) => [id, ResultCode.ACK]));
  expect(results.map((res) => res.reason)).toEqual(["", "dropped by relay rule 0", "dropped by relay rule 1", "", "dropped by relay rule 0"]);
  await upstream.flush();
  expect(received(g)).toEqual(["keep-1", "keep-2"]);
  expect(r.stats).toMatchObject({ received: 5, forwarded: 2, dropped: 3 });
  expect(r.snapshot().relay).toMatchObject({ dropped: 3, forwarded: 2 });
});

test("conflate rule: within a window only each symbol's last quote goes upstream; every quote is ACKed", async () => {
  const g = await gateway();
  const { url, relay: r, upstream } = await relay(g.url, { rules: [{ match: { type: QUOTE }, action: "conflate", windowMs: 50 }] });
  const d = await device(url);
  const acme = quotes(10, "acme", { partitionKey: "ACME" });
  const bolt = quotes(4, "bolt", { partitionKey: "BOLT" });
  // Interleaved in one batch: one window per symbol.
  const batch = [...acme.slice(0, 5), ...bolt, ...acme.slice(5)];
  const results = await d.publish(batch);
  expect(results.map((res) => [res.id, res.code])).toEqual(ids(batch).map((id) => [id, ResultCode.ACK]));
  await upstream.flush();
  expect(received(g).sort()).toEqual(["acme-9", "bolt-3"]);
  expect(r.stats).toMatchObject({ received: 14, forwarded: 2 });
  expect(r.snapshot().relay).toMatchObject({ superseded: 12, conflating: 0 });

  // A later window goes on as well: the symbol's latest quote of that window.
  const later = quotes(3, "acme-later", { partitionKey: "ACME" });
  expect(codes(await d.publish(later))).toEqual(Array(3).fill(ResultCode.ACK));
  await upstream.flush();
  expect(received(g).sort()).toEqual(["acme-9", "acme-later-2", "bolt-3"]);
});

test("conflate rule: devices of different tenants never share a window", async () => {
  const g = await gateway();
  const { url, upstream } = await relay(g.url, { rules: [{ match: { type: QUOTE }, action: "conflate", windowMs: 50 }] });
  const [d1, d2] = [await device(url), await device(url, "plant-2", "k:2")];
  await Promise.all([d1.publish(quotes(3, "p1", { partitionKey: "ACME" })), d2.publish(quotes(3, "p2", { partitionKey: "ACME" }))]);
  await upstream.flush();
  expect(received(g).sort()).toEqual(["p1-2", "p2-2"]);
});

test("the Welcome's max_frame_bytes stays under what Deno's WebSocket takes, however large the limits", async () => {
  const g = await gateway();
  const { url } = await relay(g.url, { maxBatchEvents: 5000, maxEventBytes: 16 << 20 });
  const d = await device(url);
  expect(d.welcome.maxFrameBytes).toBeLessThan(64 * 1024 * 1024);
});

test("conflate rule: events it does not match are forwarded each, and quotes without a partition key are never merged", async () => {
  const g = await gateway();
  const { url, upstream } = await relay(g.url, { rules: [{ match: { type: QUOTE, attributes: { conflate: "yes" } }, action: "conflate", windowMs: 30 }] });
  const d = await device(url);
  const plain = quotes(3, "plain", { partitionKey: "ACME" });
  const unkeyed = quotes(3, "unkeyed", { attributes: { conflate: "yes" } });
  const keyed = quotes(3, "keyed", { partitionKey: "ACME", attributes: { conflate: "yes" } });
  expect(codes(await d.publish([...plain, ...unkeyed, ...keyed]))).toEqual(Array(9).fill(ResultCode.ACK));
  await upstream.flush();
  expect(received(g).sort()).toEqual([...ids(plain), ...ids(unkeyed), "keyed-2"].sort());
});

// ---- per-event refusals ----

test("an invalid envelope is answered INVALID / WEIR_ERR_INVALID_ENVELOPE and not forwarded; the rest of its batch goes on", async () => {
  const g = await gateway();
  const { url, relay: r, upstream } = await relay(g.url, { maxEventBytes: 256 });
  const d = await device(url);
  const events = [quoteEvent("ok-1"), { ...quoteEvent("x"), id: "" }, { ...quoteEvent("no-type"), type: "" }, quoteEvent("ok-2")];
  const results = await d.publish(events);
  expect(results.map((res) => [res.id, res.code, res.errorCode])).toEqual([
    ["ok-1", ResultCode.ACK, ""],
    ["", ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
    ["no-type", ResultCode.INVALID, "WEIR_ERR_INVALID_ENVELOPE"],
    ["ok-2", ResultCode.ACK, ""],
  ]);
  // The gateway's own reasons (its EventChecker): the field and the rule.
  expect(results[1]!.reason).toMatch(/^invalid envelope: id: .*\[string\.min_len\]/);
  expect(results[2]!.reason).toMatch(/^invalid envelope: type: .*\[string\.min_len\]/);
  await upstream.flush();
  expect(received(g)).toEqual(["ok-1", "ok-2"]);
  expect(r.stats).toMatchObject({ received: 4, forwarded: 2, refused: 2 });
});

test("an event over maxEventBytes (the whole envelope, as forwarded) is refused and not forwarded", async () => {
  const g = await gateway();
  const { url, upstream } = await relay(g.url, { maxEventBytes: 200 });
  const d = await device(url);
  // Counted as the gateway will count it: with the device-tenant id prefix and attribute the relay adds.
  // The padding goes into an attribute: the payload must stay a valid Quote (the relay checks it too).
  const sized = (id: string, bytes: number) => {
    const env = quoteEvent(id, { attributes: { pad: "" } });
    const pad = bytes - envelopeBytes(upstreamEnvelope(env, "plant-1"));
    return { ...env, attributes: { pad: "x".repeat(pad) } };
  };
  const big = sized("big", 201);
  const fits = sized("fits", 200);
  const [bigResult, fitsResult] = await d.publish([big, fits]);
  expect(bigResult!.code).not.toBe(ResultCode.ACK);
  expect(fitsResult!.code).toBe(ResultCode.ACK);
  await upstream.flush();
  expect(received(g)).toEqual(["fits"]);
});

// The gateway's code for the same fault (src/ingest/check-event.ts): a device sees the same behind a relay.
test("a payload over maxEventBytes is answered TOO_LARGE / WEIR_ERR_EVENT_TOO_LARGE, as the gateway does", async () => {
  const g = await gateway();
  const { url } = await relay(g.url, { maxEventBytes: 16 });
  const d = await device(url);
  const [result] = await d.publish([{ ...quoteEvent("big"), payload: new Uint8Array(17) }]);
  expect([result!.code, result!.errorCode]).toEqual([ResultCode.TOO_LARGE, "WEIR_ERR_EVENT_TOO_LARGE"]);
});

test("the upstream outbox failing a write: the device is told RETRY_AFTER (WEIR_ERR_UPSTREAM_UNAVAILABLE) and keeps the event", async () => {
  const g = await gateway();
  const outbox = new GatedOutbox();
  outbox.fail = new Error("disk full");
  outbox.open();
  const { url, logs } = await relay(g.url, {}, { outbox });
  const d = await device(url);
  const [result] = await d.publish([quoteEvent("lost")]);
  expect(result).toMatchObject({ id: "lost", code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_UPSTREAM_UNAVAILABLE", retryAfterMs: 1000 });
  expect(result!.reason).toMatch(/disk full/);
  expect(logs).toContainEqual(expect.objectContaining({ level: "warn", msg: "event not stored" }));
  expect(received(g)).toEqual([]);
});

test("the upstream refusing the relay for good (bad upstream key): devices are told RETRY_AFTER", async () => {
  const g = await gateway({ apiKey: "another-key" });
  const { url, upstream } = await relay(g.url);
  expect((await upstream.done)?.message).toMatch(/4401/);
  const d = await device(url);
  const results = await d.publish(quotes(2, "x"));
  expect(results.map((res) => [res.code, res.errorCode])).toEqual(Array(2).fill([ResultCode.RETRY_AFTER, "WEIR_ERR_UPSTREAM_UNAVAILABLE"]));
});

test("conflated events whose survivor cannot be stored are all told RETRY_AFTER", async () => {
  const g = await gateway();
  const outbox = new GatedOutbox();
  outbox.fail = new Error("disk full");
  outbox.open();
  const { url } = await relay(g.url, { rules: [{ match: { type: QUOTE }, action: "conflate", windowMs: 20 }] }, { outbox });
  const d = await device(url);
  const results = await d.publish(quotes(4, "c", { partitionKey: "ACME" }));
  expect(codes(results)).toEqual(Array(4).fill(ResultCode.RETRY_AFTER));
  expect(outbox.appends.flat().map((e) => e.id)).toEqual([up("c-3")]);
});

// A gateway accepts an event whose tenant names the connection's tenant and refuses others
// (WEIR_ERR_TENANT_MISMATCH); the relay publishes as its own tenant, so it must not pass a device's
// tenant on (ACKed, then refused upstream). The fake below answers as the gateway does.
test("an event naming the device's tenant is not ACKed to the device and then refused upstream", async () => {
  const g = await gateway({
    answer: (env) =>
      env.tenant !== "" && env.tenant !== UPSTREAM.tenant ? { code: ResultCode.UNAUTHORIZED, errorCode: "WEIR_ERR_TENANT_MISMATCH" } : undefined,
  });
  const refusedUpstream: string[] = [];
  const { url, upstream } = await relay(g.url, {}, { onResult: (r) => r.code === ResultCode.UNAUTHORIZED && refusedUpstream.push(r.id) });
  const d = await device(url);
  const [result] = await d.publish([{ ...quoteEvent("mine"), tenant: "plant-1" }]);
  await upstream.flush();
  // Either the relay refuses it to the device, or the upstream takes it: never ACK and then lost.
  expect(result!.code === ResultCode.ACK && refusedUpstream.includes("mine")).toBe(false);
});

test("an event naming another tenant than its device's is refused UNAUTHORIZED (WEIR_ERR_TENANT_MISMATCH), not forwarded", async () => {
  const g = await gateway();
  const { url, upstream } = await relay(g.url);
  const d = await device(url);
  const [other, own] = await d.publish([
    { ...quoteEvent("theirs"), tenant: "plant-2" },
    { ...quoteEvent("ours"), tenant: "plant-1" },
  ]);
  expect([other!.code, other!.errorCode]).toEqual([ResultCode.UNAUTHORIZED, "WEIR_ERR_TENANT_MISMATCH"]);
  expect(own!.code).toBe(ResultCode.ACK);
  await upstream.flush();
  expect(received(g)).toEqual(["ours"]);
  expect(g.batches.flat()[0]!.tenant).toBe("");
});

// ---- dedup ----

test("an id re-sent while still unanswered upstream is not forwarded twice", async () => {
  const g = await gateway({ hold: true });
  const { url, upstream, relay: r } = await relay(g.url);
  const d = await device(url);
  const e = quoteEvent("same", { partitionKey: "ACME" });
  expect(codes(await d.publish([e]))).toEqual([ResultCode.ACK]);
  await waitFor(() => received(g).length === 1, "the event at the gateway");
  // The device did not see its ACK (say) and sends the event again, in another batch and in the same one.
  expect(codes(await d.publish([e, quoteEvent("other"), e]))).toEqual([ResultCode.ACK, ResultCode.ACK, ResultCode.ACK]);
  // Another device of the same tenant with the same id: the same event (ids are unique per tenant).
  const d1b = await device(url);
  expect(codes(await d1b.publish([e]))).toEqual([ResultCode.ACK]);
  await waitFor(() => received(g).length === 2, "the other event at the gateway");
  expect(upstream.stats.unanswered).toBe(2);
  g.release();
  await upstream.flush();
  expect(ids(g.batches.flat())).toEqual([up("same"), up("other")]);
  expect(upstream.stats).toMatchObject({ acked: 2, unanswered: 0 });
  expect(r.stats.forwarded).toBe(2);
});

// ---- ping ----

test("Ping is answered with a Pong of the same nonce", async () => {
  const g = await gateway();
  const { url } = await relay(g.url);
  const s = await raw(url);
  s.send(hello());
  await waitFor(() => s.frames.length === 1, "the Welcome");
  expect(s.frames[0]!.case).toBe("welcome");
  s.send({ frame: { case: "ping", value: { nonce: 7n } } });
  s.send({ frame: { case: "ping", value: { nonce: 2n ** 63n + 5n } } });
  await waitFor(() => s.frames.length === 3, "two Pongs");
  expect(s.frames.slice(1)).toMatchObject([
    { case: "pong", value: { nonce: 7n } },
    { case: "pong", value: { nonce: 2n ** 63n + 5n } },
  ]);
  expect(s.ws.readyState).toBe(WebSocketNode.OPEN);
});
