/**
 * Slow subscribers against the real Kafka and the real uWS socket, with small limits so the test
 * is quick. A "slow" subscriber is a raw `ws` client that stops reading its socket (ws.pause()):
 * the kernel's buffers fill, then the gateway's send buffer, then the subscriber's queue.
 *   - "disconnect" (raw access logs): the slow one is closed with 4409 WEIR_ERR_SLOW_SUBSCRIBER,
 *     what it did get has no gap, and its last resume token continues exactly; a fast subscriber
 *     on the same stream gets every event; the gateway's memory stays bounded throughout.
 *   - catching up a backlog far larger than the limits (a resume or a start in the past): the
 *     subscriber's own read goes at its pace, so one that reads gets all of it and is not closed.
 *   - "conflate" (raw quotes): the slow one stays open; once it reads again it ends with the
 *     latest quote of every symbol, never an older one after a newer one.
 *   - "conflate" with 60 MB pushed past a stalled subscriber (a second gateway that conflates the
 *     access logs): never closed, pending within the limit, memory bounded.
 * The gateways run in this process, so process.memoryUsage() is theirs (plus the test's).
 */
import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import WebSocket from "ws";
import { Kafka, logLevel } from "kafkajs";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type Delivery, type ProtocolError, type Subscribe } from "../../src/gen/weir/v1/protocol_pb.js";
import { HttpAccessLogSchema, QuoteSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import type { Subscription } from "../../src/subscribe/subscription.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const run = `slow-${Date.now().toString(36)}`;
const tenant = `${run}-t`;
const auth = { tenant, apiKey: "secret" };
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const ACCESS = "events.weir.events.v1.HttpAccessLog";
const QUOTES = "events.weir.events.v1.Quote";
// Room for a fast subscriber sharing the event loop with the gateway (one Kafka fetch can be
// several MB); a stalled one is still closed after about 10 MB.
const MAX_PENDING = 2000;
const MAX_SEND_BUFFER = 256 * 1024;
const MB = 1024 * 1024;

let gateway: Gateway;
/** Conflates the access logs too: a stream whose events are big enough to push 60 MB quickly. */
let conflating: Gateway;

beforeAll(async () => {
  const limits = { apiKeys: [`${tenant}:secret`], subscriberMaxPending: MAX_PENDING, maxSendBufferBytes: MAX_SEND_BUFFER };
  gateway = await gatewayFor(services, limits);
  conflating = await gatewayFor(services, { ...limits, subscribeConflate: [QUOTES, ACCESS] });
  // Warm up both (producers, the access-log tail, sockets, Redis): the memory measured in the
  // tests is then what the tests add, not what a first use allocates for good.
  for (const [n, g] of [gateway, conflating].entries()) {
    const prefix = `${run}-warm${n}-`;
    const reader = await rawSubscribe(g, { keyPrefix: prefix }, indexOf);
    const side = gatewaySide(g, reader.sessionId);
    await send(
      g,
      Array.from({ length: 3000 }, (_, i) => accessLog(prefix, i)),
    );
    expect(reader.closed).toBeUndefined();
    await waitFor(async () => side.pending === 0 && (await offeredAll(side)), "the warm-up events to be delivered");
    reader.ws.close();
  }
}, 180_000);
afterAll(async () => {
  await gateway?.close();
  await conflating?.close();
}, 60_000);

const subscribeUrl = (g: Gateway) => g.url.replace("/v1/ingest", "/v1/subscribe");

/** A subscriber on a raw socket: what it received (decoded by `keep`), how it ended. */
type RawSubscriber<T> = {
  readonly ws: WebSocket;
  readonly got: T[];
  sessionId: string;
  slowPolicy: string;
  lastToken: string;
  error: ProtocolError | undefined;
  closed: { code: number; reason: string } | undefined;
};

async function rawSubscribe<T>(g: Gateway, request: Partial<Omit<Subscribe, "$typeName">>, keep: (d: Delivery) => T): Promise<RawSubscriber<T>> {
  const ws = new WebSocket(subscribeUrl(g));
  const sub: RawSubscriber<T> = { ws, got: [], sessionId: "", slowPolicy: "", lastToken: "", error: undefined, closed: undefined };
  ws.on("message", (data: Buffer) => {
    const frame = fromBinary(ServerFrameSchema, data).frame;
    if (frame.case === "welcome") sub.sessionId = frame.value.sessionId;
    else if (frame.case === "subscribed") sub.slowPolicy = frame.value.slowPolicy;
    else if (frame.case === "error") sub.error = frame.value;
    else if (frame.case === "deliveries") {
      for (const d of frame.value.deliveries) sub.got.push(keep(d));
      sub.lastToken = frame.value.deliveries.at(-1)?.resumeToken ?? sub.lastToken;
    }
  });
  ws.on("close", (code, reason) => (sub.closed = { code, reason: reason.toString() }));
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const send = (frame: Parameters<typeof create<typeof ClientFrameSchema>>[1]) => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame)));
  send({ frame: { case: "hello", value: { protocolVersion: 1, tenant, apiKey: "secret", clientId: "slow-test" } } });
  send({ frame: { case: "subscribe", value: { stream: ACCESS, ...request } } });
  await waitFor(() => sub.slowPolicy !== "" || sub.closed !== undefined, "Subscribed");
  expect(sub.closed, sub.error?.message).toBeUndefined();
  return sub;
}

/** The gateway's side of a raw subscriber. */
function gatewaySide(g: Gateway, sessionId: string): Subscription {
  const sub = [...g.subscriptions.subscribers].find((s) => s.sessionId === sessionId);
  if (!sub) throw new Error(`no subscription ${sessionId}`);
  return sub;
}

/** Samples `sub.pending` every few ms until stopped; `max` is the largest seen. */
function pendingSampler(sub: Subscription) {
  const state = { max: 0, samples: 0 };
  const timer = setInterval(() => {
    state.max = Math.max(state.max, sub.pending);
    state.samples++;
  }, 2);
  return { state, stop: () => clearInterval(timer) };
}

/** Whether the tail has offered `sub` every record of its topic so far. */
async function offeredAll(sub: Subscription): Promise<boolean> {
  const admin = new Kafka({ brokers: [services.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-slow" }).admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(sub.spec!.topic);
    return ends.every((e) => (sub.next[e.partition] ?? 0) >= Number(e.high));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Memory after a full GC. `retained` (V8 heap + buffers outside it) is what a queue of deliveries
 * would pin, and gets the tight bound; RSS also counts allocator pages the process keeps after a
 * burst (it grew 40 to 54 MB on a loaded CI machine with nothing retained), so it gets a loose
 * bound against gross growth only.
 */
type Memory = { retained: number; rss: number };
function memoryAfterGc(): Memory {
  gc();
  gc();
  const m = process.memoryUsage();
  return { retained: m.heapUsed + m.external, rss: m.rss };
}
const showMemory = (a: Memory, b: Memory) =>
  `retained ${(a.retained / MB).toFixed(0)} -> ${(b.retained / MB).toFixed(0)} MB, rss ${(a.rss / MB).toFixed(0)} -> ${(b.rss / MB).toFixed(0)} MB`;
function expectMemoryBounded(a: Memory, b: Memory): void {
  expect(b.retained - a.retained).toBeLessThan(30 * MB);
  expect(b.rss - a.rss).toBeLessThan(100 * MB);
}

/** Big access-log lines (about 3 KB each), index in the path, 16 hosts of this run. */
const PAD_PATH = "p".repeat(2000);
const PAD_AGENT = "a".repeat(1000);
const accessLog = (prefix: string, i: number) =>
  envelopeOf(
    HttpAccessLogSchema,
    { host: `${prefix}h${i % 16}`, method: "GET", path: `/${i}/${PAD_PATH}`, status: 200, userAgent: PAD_AGENT },
    { id: `${prefix}${i}`, partitionKey: `${prefix}h${i % 16}` },
  );
const indexOf = (d: Delivery) => ({ host: d.key, i: Number(fromBinary(HttpAccessLogSchema, d.value).path.split("/")[1]) });

async function send(g: Gateway, events: readonly Envelope[]): Promise<void> {
  const results = await streamAll(g.url, auth, events, { connections: 2, batch: 50 });
  expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
}

/** Per host, the indexes in delivery order. */
function byHost(got: ReadonlyArray<{ host: string; i: number }>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const g of got) out.set(g.host, [...(out.get(g.host) ?? []), g.i]);
  return out;
}

test('"disconnect": a stalled subscriber is closed with 4409 and loses nothing it was sent; a fast one gets every event; memory stays bounded', async () => {
  const prefix = `${run}-d-`;
  const fast = await rawSubscribe(gateway, { keyPrefix: prefix }, indexOf);
  const slow = await rawSubscribe(gateway, { keyPrefix: prefix }, indexOf);
  expect(slow.slowPolicy).toBe("disconnect");
  slow.ws.pause();
  const slowSide = gatewaySide(gateway, slow.sessionId);
  const sampler = pendingSampler(slowSide);

  const mem0 = memoryAfterGc();
  const ROUND = 500; // about 1.5 MB
  let sent = 0;
  let bytes = 0;
  const push = async () => {
    const events = Array.from({ length: ROUND }, (_, j) => accessLog(prefix, sent + j));
    await send(gateway, events);
    sent += ROUND;
    bytes += events.reduce((n, e) => n + e.payload.byteLength, 0);
  };
  // Until the gateway closes it (at most 200 MB)...
  while (!slowSide.closed) {
    if (bytes > 200 * MB) throw new Error(`the stalled subscriber was not closed after ${bytes} bytes (pending ${slowSide.pending})`);
    await push();
  }
  const closedAfterBytes = bytes;
  expect(gateway.subscriptions.subscribers.has(slowSide)).toBe(false);
  // ...then it reads again (soon: the gateway does not keep a closed socket that nobody reads for
  // long): what it had been sent, then the ProtocolError and 4409.
  slow.ws.resume();
  await waitFor(() => slow.closed !== undefined, "the stalled subscriber to see its close", 60_000);
  expect(slow.error).toMatchObject({ errorCode: "WEIR_ERR_SLOW_SUBSCRIBER", closeCode: 4409 });
  expect(slow.closed).toEqual({ code: 4409, reason: "WEIR_ERR_SLOW_SUBSCRIBER" });
  // And on to 60 MB.
  while (bytes < 60 * MB) await push();
  await waitFor(() => fast.got.length >= sent, `the fast subscriber to get all ${sent} events`, 120_000);
  sampler.stop();
  const mem1 = memoryAfterGc();
  console.log(
    `disconnect: ${sent} events (${(bytes / MB).toFixed(0)} MB); stalled subscriber closed after ${(closedAfterBytes / MB).toFixed(1)} MB having got ${slow.got.length}, ` +
      `max pending ${sampler.state.max} (${sampler.state.samples} samples); ${showMemory(mem0, mem1)}`,
  );

  // The fast one: every event exactly once, in order per host.
  expect(fast.closed).toBeUndefined();
  expect(fast.got).toHaveLength(sent);
  expect(new Set(fast.got.map((g) => g.i)).size).toBe(sent);
  const order = byHost(fast.got);
  for (const seq of order.values()) expect(seq).toEqual([...seq].sort((a, b) => a - b));

  // Bounded: the queue never beyond the limit, memory far below what was pushed past it.
  expect(sampler.state.max).toBeLessThanOrEqual(MAX_PENDING);
  expect(sampler.state.samples).toBeGreaterThan(10);
  expectMemoryBounded(mem0, mem1);

  // No silent gap: per host, what the slow one got is the start of what the fast one got.
  expect(slow.got.length).toBeGreaterThan(0);
  expect(slow.got.length).toBeLessThan(sent);
  for (const [host, seq] of byHost(slow.got)) expect(seq, host).toEqual(order.get(host)!.slice(0, seq.length));

  // Its last resume token continues right after what it got: the rest, nothing twice.
  const again = await rawSubscribe(gateway, { keyPrefix: prefix, start: { case: "resumeToken", value: slow.lastToken } }, indexOf);
  await waitFor(() => again.got.length >= sent - slow.got.length, "the resumed subscriber to catch up", 120_000);
  again.ws.close();
  fast.ws.close();
  const all = [...slow.got, ...again.got].map((g) => g.i).sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: sent }, (_, i) => i));
}, 400_000);

test("catching up a backlog far larger than the limits: a subscriber that reads gets all of it, in order, and is not closed as slow", async () => {
  // Its own read of the past goes at the subscriber's pace; only the shared live tail can outrun it.
  const prefix = `${run}-c-`;
  const from = Date.now() - 1000;
  const N = 30_000; // small lines (about 100 bytes): Kafka hands over thousands per fetch
  const events = Array.from({ length: N }, (_, i) =>
    envelopeOf(
      HttpAccessLogSchema,
      { host: `${prefix}h${i % 4}`, method: "GET", path: `/${i}/`, status: 200 },
      { id: `${prefix}${i}`, partitionKey: `${prefix}h${i % 4}` },
    ),
  );
  for (let i = 0; i < N; i += 5000) await send(gateway, events.slice(i, i + 5000));
  const reader = await rawSubscribe(gateway, { keyPrefix: prefix, start: { case: "fromTimestampMs", value: BigInt(from) } }, indexOf);
  await waitFor(() => reader.got.length >= N || reader.closed !== undefined, `all ${N} events or a close`, 120_000);
  console.log(`catch-up: got ${reader.got.length} of ${N}, closed ${JSON.stringify(reader.closed)} ${reader.error?.errorCode ?? ""}`);
  expect(reader.closed).toBeUndefined();
  expect(reader.got.map((g) => g.i).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
  for (const seq of byHost(reader.got).values()) expect(seq).toEqual([...seq].sort((a, b) => a - b));
  reader.ws.close();
}, 300_000);

test('"conflate": a stalled quote subscriber stays open and, reading again, holds the latest quote of every symbol', async () => {
  const prefix = `${run}-q-`;
  const SYMBOLS = 20;
  const symbol = (k: number) => `${prefix}S${k}`;
  const keep = (d: Delivery) => ({ symbol: d.key, seq: fromBinary(QuoteSchema, d.value).bid });
  const fast = await rawSubscribe(gateway, { stream: QUOTES, keyPrefix: prefix }, keep);
  const slow = await rawSubscribe(gateway, { stream: QUOTES, keyPrefix: prefix }, keep);
  expect(slow.slowPolicy).toBe("conflate");
  slow.ws.pause();
  const slowSide = gatewaySide(gateway, slow.sessionId);
  const sampler = pendingSampler(slowSide);

  // Rounds of one quote per symbol (bid = a sequence number), one batch at a time so each
  // symbol's quotes land in Kafka in order; until the gateway has had to conflate for a while.
  const last = new Map<string, number>();
  let seq = 0;
  let conflatingRounds = 0;
  while (conflatingRounds < 20) {
    if (seq > 2_000_000) throw new Error("the stalled subscriber never backed up");
    const batch: Envelope[] = [];
    for (let r = 0; r < 25; r++) {
      for (let k = 0; k < SYMBOLS; k++) {
        seq++;
        last.set(symbol(k), seq);
        batch.push(
          envelopeOf(QuoteSchema, { symbol: symbol(k), bid: seq, ask: seq + 0.5, bidSize: 1, askSize: 1, venue: "X".repeat(32) }, { partitionKey: symbol(k) }),
        );
      }
    }
    const results = await streamAll(gateway.url, auth, batch, { connections: 1, batch: batch.length });
    expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
    if (sampler.state.max > 0) conflatingRounds++;
  }
  await waitFor(() => fast.got.length >= seq, `the fast subscriber to get all ${seq} quotes`, 120_000);
  sampler.stop();
  expect(slowSide.closed).toBe(false);
  expect(sampler.state.max).toBeGreaterThan(0);
  expect(sampler.state.max).toBeLessThanOrEqual(SYMBOLS);

  slow.ws.resume();
  const latest = () => {
    const m = new Map<string, number>();
    for (const g of slow.got) m.set(g.symbol, g.seq);
    return m;
  };
  await waitFor(() => [...last].every(([s, v]) => latest().get(s) === v), "the slow subscriber to hold the latest quote of every symbol", 60_000);
  console.log(`conflate: ${seq} quotes sent, the stalled subscriber received ${slow.got.length}, max pending ${sampler.state.max}`);
  expect(slow.closed).toBeUndefined();
  expect(latest()).toEqual(last);
  // Conflated (fewer than sent), and never an older quote after a newer one.
  expect(slow.got.length).toBeLessThan(seq);
  const perSymbol = new Map<string, number[]>();
  for (const g of slow.got) perSymbol.set(g.symbol, [...(perSymbol.get(g.symbol) ?? []), g.seq]);
  for (const [s, seqs] of perSymbol) expect(seqs, s).toEqual([...seqs].sort((a, b) => a - b));
  // The fast one got every quote.
  expect(new Set(fast.got.map((g) => g.seq)).size).toBe(seq);
  slow.ws.close();
  fast.ws.close();
}, 300_000);

test('"conflate": 60 MB past a stalled subscriber: never closed, pending within the limit, memory bounded, the latest value per key after', async () => {
  const prefix = `${run}-m-`;
  const slow = await rawSubscribe(conflating, { keyPrefix: prefix }, indexOf);
  expect(slow.slowPolicy).toBe("conflate");
  slow.ws.pause();
  const slowSide = gatewaySide(conflating, slow.sessionId);
  const sampler = pendingSampler(slowSide);

  const mem0 = memoryAfterGc();
  const ROUND = 500;
  let sent = 0;
  let bytes = 0;
  while (bytes < 60 * MB) {
    const events = Array.from({ length: ROUND }, (_, j) => accessLog(prefix, sent + j));
    await send(conflating, events);
    sent += ROUND;
    bytes += events.reduce((n, e) => n + e.payload.byteLength, 0);
  }
  // Everything sent has been offered to it: its positions reached the topic's end.
  await waitFor(() => offeredAll(slowSide), "the stalled subscriber to be offered every event", 120_000);
  const mem1 = memoryAfterGc();
  sampler.stop();
  console.log(`conflate 60 MB: ${sent} events (${(bytes / MB).toFixed(0)} MB), max pending ${sampler.state.max}; ${showMemory(mem0, mem1)}`);
  expect(slowSide.closed).toBe(false);
  expect(sampler.state.max).toBeLessThanOrEqual(16); // 16 hosts: one waiting delivery per key at most
  expect(sampler.state.max).toBeLessThanOrEqual(MAX_PENDING);
  expectMemoryBounded(mem0, mem1);

  slow.ws.resume();
  const lastOf = new Map<string, number>();
  for (let i = sent - 16; i < sent; i++) lastOf.set(`${prefix}h${i % 16}`, i);
  const latest = () => {
    const m = new Map<string, number>();
    for (const g of slow.got) m.set(g.host, g.i);
    return m;
  };
  await waitFor(() => [...lastOf].every(([h, i]) => latest().get(h) === i), "the latest line of every host", 60_000);
  expect(slow.closed).toBeUndefined();
  for (const [host, seq] of byHost(slow.got)) expect(seq, host).toEqual([...seq].sort((a, b) => a - b));
  slow.ws.close();
}, 400_000);
