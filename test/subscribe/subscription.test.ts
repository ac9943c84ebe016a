/**
 * The Subscription state machine (/v1/subscribe) without sockets or Kafka: a fake Transport
 * records what it sends and reports a send buffer the test controls; a fake StreamSource stands
 * for the hub (it records attach/detach, sets the start position, and resolves attach when told).
 * Records are offered as the hub would: per partition, in offset order.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Subscribe } from "../../src/gen/weir/v1/protocol_pb.js";
import { WeirError } from "../../src/errors.js";
import type { Grants } from "../../src/protocol/grants.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { Subscription, type StreamSource, type SubscriptionLimits } from "../../src/subscribe/subscription.js";
import type { TailRecord } from "../../src/subscribe/ports.js";
import { decodeResumeToken } from "../../src/subscribe/resume-token.js";
import { streamCatalog, type StreamSpec } from "../../src/subscribe/streams.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { clientFrame, FakeTransport } from "../unit-fixtures/fake-transport.js";
import { deferred, flushMicrotasks, track, type Deferred } from "../unit-fixtures/fake-ports.js";

const TENANT = "acme";
const API_KEY = "s3cret-key";
const ACCESS = "events.weir.events.v1.HttpAccessLog"; // "disconnect"
const QUOTES = "events.weir.events.v1.Quote"; // "conflate"
const PARTITIONS = 6;

const registry = SchemaRegistry.builtin();
const catalog = streamCatalog(registry, {
  jobs: ["fraud"],
  rawTypes: ["weir.events.v1.HttpAccessLog", "weir.events.v1.Quote"],
  conflate: [QUOTES],
});
const typeOf = (stream: string) => stream.slice("events.".length);

const defaultLimits: SubscriptionLimits = { helloTimeoutMs: 60_000, maxSendBufferBytes: 4096, maxPending: 100 };

/** A Transport whose send buffer grows with what is sent while `growing` (a socket nobody reads). */
class BufferedTransport extends FakeTransport {
  growing = false;
  override send(bytes: Uint8Array): void {
    super.send(bytes);
    if (this.growing) this.buffered += bytes.byteLength;
  }
  /** Every delivery sent so far, in order. */
  get deliveries() {
    return this.framesOf("deliveries").flatMap((b) => b.deliveries);
  }
}

/** Frames sent while the reported buffer was over the limit: wraps send to look at the buffer first. */
function watchOverLimit(t: BufferedTransport, limit: number): number[] {
  const over: number[] = [];
  const send = t.send.bind(t);
  t.send = (bytes) => {
    if (t.buffered > limit) over.push(t.buffered);
    send(bytes);
  };
  return over;
}

type Attach = { sub: Subscription; spec: StreamSpec; request: Subscribe; done: Deferred<void> };

class FakeSource implements StreamSource {
  readonly attached: Attach[] = [];
  readonly detached: Subscription[] = [];
  /** Where a subscriber starts (the hub sets `next` before it delivers anything). */
  start = Array.from({ length: PARTITIONS }, () => 0);
  /** Resolve attach at once (else the test resolves `attached[i].done`). */
  immediate = true;

  stream(name: string): StreamSpec | undefined {
    return catalog.get(name);
  }
  streamNames(): string[] {
    return [...catalog.keys()];
  }
  attach(sub: Subscription, spec: StreamSpec, request: Subscribe): Promise<void> {
    sub.next = [...this.start];
    const done = deferred<void>();
    this.attached.push({ sub, spec, request, done });
    if (this.immediate) done.resolve();
    return done.promise;
  }
  detach(sub: Subscription): void {
    this.detached.push(sub);
  }
}

const open: Subscription[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.onClose();
  vi.useRealTimers();
});

function connect(limits: Partial<SubscriptionLimits> = {}, grants?: Grants) {
  const transport = new BufferedTransport();
  const source = new FakeSource();
  const sub = new Subscription(transport, {
    authenticator: apiKeyAuthenticator(
      new Map([
        [TENANT, API_KEY],
        ["globex", "other-key"],
      ]),
      new Map(grants ? [[TENANT, grants]] : []),
    ),
    source,
    limits: { ...defaultLimits, ...limits },
  });
  open.push(sub);
  return { transport, source, sub };
}

const hello = (fields: { protocolVersion?: number; tenant?: string; apiKey?: string } = {}) =>
  clientFrame({ case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: TENANT, apiKey: API_KEY, clientId: "unit", ...fields } });
type SubscribeFields = { stream?: string; key?: string; keyPrefix?: string; start?: Subscribe["start"] };
const subscribeFrame = (fields: SubscribeFields = {}) => clientFrame({ case: "subscribe", value: { stream: ACCESS, ...fields } });
const ping = (nonce: bigint) => clientFrame({ case: "ping", value: { nonce } });

/** Hello + Subscribe, attach resolved, Subscribed sent; the recorded frames are then cleared. */
async function streaming(fields: SubscribeFields = {}, limits: Partial<SubscriptionLimits> = {}) {
  const c = connect(limits);
  c.sub.onMessage(hello(), true);
  c.sub.onMessage(subscribeFrame(fields), true);
  await flushMicrotasks();
  expect(c.transport.frames.map((f) => f.case)).toEqual(["welcome", "subscribed"]);
  c.transport.sent.length = 0;
  return c;
}

/** Asserts the subscription ended with one ProtocolError frame of `errorCode`, then `closeCode`. */
function expectClosedWith(c: { transport: FakeTransport; sub: Subscription; source: FakeSource }, errorCode: string, closeCode: number) {
  const last = c.transport.frames.at(-1);
  expect(last?.case).toBe("error");
  expect(last?.value).toMatchObject({ errorCode, closeCode });
  expect(c.transport.closed).toEqual({ code: closeCode, reason: errorCode });
  expect(c.sub.closed).toBe(true);
}

let offsetSeq = 0;
/** A raw event record of `stream` as the tail hands it over. */
function rec(partition: number, offset: number, key: string, opts: { tenant?: string | null; stream?: string; value?: string } = {}): TailRecord {
  const tenant = opts.tenant === undefined ? TENANT : opts.tenant;
  const headers: Record<string, string> = { "weir.type": typeOf(opts.stream ?? ACCESS), "weir.id": `id-${offsetSeq++}` };
  if (tenant !== null) headers["weir.tenant"] = tenant;
  return { partition, offset, key, value: Buffer.from(opts.value ?? `${partition}:${offset}`), timestampMs: 1_700_000_000_000 + offset, headers };
}
const valueOf = (d: { value: Uint8Array }) => Buffer.from(d.value).toString();

describe("Subscription: Hello", () => {
  it("answers Hello with a Welcome without credit, then waits for Subscribe", () => {
    const { transport, sub, source } = connect();
    sub.onMessage(hello(), true);
    expect(transport.frames.map((f) => f.case)).toEqual(["welcome"]);
    expect(transport.framesOf("welcome")[0]).toMatchObject({ sessionId: sub.sessionId, credit: 0 });
    expect(sub.tenant).toBe(TENANT);
    expect(source.attached).toEqual([]);
    expect(transport.closed).toBeUndefined();
  });

  it("refuses Subscribe before Hello with WEIR_ERR_HELLO_REQUIRED and 4403, and never attaches", async () => {
    const c = connect();
    c.sub.onMessage(subscribeFrame(), true);
    await flushMicrotasks();
    expectClosedWith(c, "WEIR_ERR_HELLO_REQUIRED", 4403);
    expect(c.source.attached).toEqual([]);
  });

  it.each([
    ["Ping", ping(1n)],
    ["PublishBatch", clientFrame({ case: "publish", value: { seq: 1n, events: [] } })],
  ])("refuses %s before Hello with 4403", (_, frame) => {
    const c = connect();
    c.sub.onMessage(frame, true);
    expectClosedWith(c, "WEIR_ERR_HELLO_REQUIRED", 4403);
  });

  it.each([
    ["a wrong API key", { apiKey: "wrong-key!" }],
    ["another tenant's API key", { apiKey: "other-key" }],
    ["an unknown tenant", { tenant: "initech" }],
  ])("refuses %s with WEIR_ERR_UNAUTHORIZED and 4401; a Subscribe after it is ignored", async (_, fields) => {
    const c = connect();
    c.sub.onMessage(hello(fields), true);
    c.sub.onMessage(subscribeFrame(), true);
    await flushMicrotasks();
    expect(c.transport.frames).toHaveLength(1);
    expectClosedWith(c, "WEIR_ERR_UNAUTHORIZED", 4401);
    expect(c.source.attached).toEqual([]);
  });

  it("refuses another protocol version with 4426", () => {
    const c = connect();
    c.sub.onMessage(hello({ protocolVersion: 2 }), true);
    expectClosedWith(c, "WEIR_ERR_UNSUPPORTED_VERSION", 4426);
  });

  it("refuses a second Hello with 4400", () => {
    const c = connect();
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(hello(), true);
    expectClosedWith(c, "WEIR_ERR_BAD_FRAME", 4400);
  });

  it("closes with WEIR_ERR_HELLO_TIMEOUT and 4408 when no Hello arrives in time, and not after a Hello", async () => {
    vi.useFakeTimers();
    const late = connect({ helloTimeoutMs: 1000 });
    const prompt = connect({ helloTimeoutMs: 1000 });
    prompt.sub.onMessage(hello(), true);
    await vi.advanceTimersByTimeAsync(999);
    expect(late.transport.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expectClosedWith(late, "WEIR_ERR_HELLO_TIMEOUT", 4408);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(prompt.transport.closed).toBeUndefined();
  });

  it.each([
    ["before Hello", false],
    ["after Hello", true],
  ])("refuses a text frame %s with WEIR_ERR_BAD_FRAME and 4400", (_, afterHello) => {
    const c = connect();
    if (afterHello) c.sub.onMessage(hello(), true);
    c.sub.onMessage(new TextEncoder().encode("subscribe please"), false);
    expectClosedWith(c, "WEIR_ERR_BAD_FRAME", 4400);
  });

  it("refuses bytes that are not a ClientFrame with 4400", () => {
    const c = connect();
    c.sub.onMessage(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), true);
    expectClosedWith(c, "WEIR_ERR_BAD_FRAME", 4400);
  });

  it("answers Ping with Pong after Hello", () => {
    const c = connect();
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(ping(42n), true);
    expect(c.transport.framesOf("pong")).toEqual([expect.objectContaining({ nonce: 42n })]);
  });

  it("refuses PublishBatch on /v1/subscribe after Hello with 4400", () => {
    const c = connect();
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(clientFrame({ case: "publish", value: { seq: 1n, events: [] } }), true);
    expectClosedWith(c, "WEIR_ERR_BAD_FRAME", 4400);
  });
});

describe("Subscription: Subscribe", () => {
  it("refuses an unknown stream with WEIR_ERR_UNKNOWN_STREAM and 4404, listing the streams offered", async () => {
    const c = connect();
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame({ stream: "events.weir.events.v1.CardTransaction" }), true);
    await flushMicrotasks();
    expectClosedWith(c, "WEIR_ERR_UNKNOWN_STREAM", 4404);
    const message = c.transport.framesOf("error")[0]!.message;
    expect(message).toContain("events.weir.events.v1.CardTransaction");
    for (const name of catalog.keys()) expect(message).toContain(name);
    expect(c.source.attached).toEqual([]);
  });

  it("refuses a stream its tenant is not granted with WEIR_ERR_FORBIDDEN_STREAM and 4402, attaching nothing; a granted one is served", async () => {
    const grants = { publish: [], subscribe: ["events.*"] };
    const c = connect({}, grants);
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame({ stream: QUOTES }), true);
    await flushMicrotasks();
    expect(c.source.attached).toHaveLength(1);
    const refused = connect({}, { publish: [], subscribe: ["results.*"] });
    refused.sub.onMessage(hello(), true);
    refused.sub.onMessage(subscribeFrame({ stream: QUOTES }), true);
    await flushMicrotasks();
    expectClosedWith(refused, "WEIR_ERR_FORBIDDEN_STREAM", 4402);
    expect(refused.transport.framesOf("error")[0]!.message).toBe(`tenant ${TENANT} may not subscribe to ${QUOTES}`);
    expect(refused.source.attached).toEqual([]);
  });

  it.each([
    ["a negative from_timestamp_ms", { start: { case: "fromTimestampMs", value: -1n } }, "from_timestamp_ms -1 is outside"],
    ["a from_timestamp_ms past what a Date can name", { start: { case: "fromTimestampMs", value: 9_000_000_000_000_000n } }, "is outside 0..8640000000000000"],
    ["a key filter of 2,000 characters", { key: "k".repeat(2000) }, "key filters are limited to 1024 characters"],
  ] as const)("refuses %s with WEIR_ERR_BAD_SUBSCRIBE and 4422 (not retried), attaching nothing", async (_, fields, reason) => {
    const c = connect();
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame({ stream: QUOTES, ...fields }), true);
    await flushMicrotasks();
    expectClosedWith(c, "WEIR_ERR_BAD_SUBSCRIBE", 4422);
    expect(c.transport.framesOf("error")[0]!.message).toContain(reason);
    expect(c.source.attached).toEqual([]);
  });

  it("attaches with the stream's spec and the request, and answers Subscribed (with the policy) only once attached", async () => {
    const c = connect();
    c.source.immediate = false;
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame({ stream: QUOTES, keyPrefix: "MS", start: { case: "fromEarliest", value: true } }), true);
    await flushMicrotasks();
    expect(c.source.attached).toHaveLength(1);
    const a = c.source.attached[0]!;
    expect(a.sub).toBe(c.sub);
    expect(a.spec.name).toBe(QUOTES);
    expect(a.request).toMatchObject({ stream: QUOTES, keyPrefix: "MS", start: { case: "fromEarliest", value: true } });
    expect(c.transport.framesOf("subscribed")).toEqual([]);
    a.done.resolve();
    await flushMicrotasks();
    expect(c.transport.framesOf("subscribed")).toEqual([expect.objectContaining({ stream: QUOTES, slowPolicy: "conflate" })]);
    expect(c.sub.spec?.name).toBe(QUOTES);
    expect(c.sub.keyPrefix).toBe("MS");
  });

  it.each([
    ["while attaching", false],
    ["while streaming", true],
  ])("refuses a second Subscribe %s with 4400 (one subscription per connection), and detaches", async (_, attached) => {
    const c = connect();
    c.source.immediate = attached;
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame(), true);
    await flushMicrotasks();
    c.sub.onMessage(subscribeFrame({ stream: QUOTES }), true);
    await flushMicrotasks();
    expectClosedWith(c, "WEIR_ERR_BAD_FRAME", 4400);
    expect(c.transport.framesOf("error")[0]!.message).toContain("one Subscribe per connection");
    expect(c.source.attached).toHaveLength(1);
    expect(c.source.detached).toContain(c.sub);
    // attach resolving late must not revive it (the fake transport throws on a send after close).
    c.source.attached[0]!.done.resolve();
    await flushMicrotasks();
    expect(c.transport.framesOf("subscribed")).toHaveLength(attached ? 1 : 0);
  });

  it.each([
    ["a WeirError (its own close code)", new WeirError("WEIR_ERR_RESUME_EXPIRED", 0, 5, 10), "WEIR_ERR_RESUME_EXPIRED", 4410],
    ["a bad resume token", new WeirError("WEIR_ERR_BAD_RESUME_TOKEN", "not a resume token"), "WEIR_ERR_BAD_RESUME_TOKEN", 4422],
    ["any other error (1011, retryable)", new Error("broker down"), "WEIR_ERR_SUBSCRIPTION_FAILED", 1011],
  ])("closes when attach fails with %s", async (_, err, code, close) => {
    const c = connect();
    c.source.immediate = false;
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame({ start: { case: "resumeToken", value: "x" } }), true);
    await flushMicrotasks();
    c.source.attached[0]!.done.reject(err);
    await flushMicrotasks();
    expectClosedWith(c, code, close);
    expect(c.transport.framesOf("subscribed")).toEqual([]);
    expect(c.source.detached).toContain(c.sub);
  });

  it("sends nothing when the socket closed while attaching, and detaches", async () => {
    const c = connect();
    c.source.immediate = false;
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame(), true);
    await flushMicrotasks();
    c.sub.onClose();
    c.transport.sent.length = 0;
    c.source.attached[0]!.done.resolve();
    await flushMicrotasks();
    expect(c.transport.sent).toEqual([]);
    expect(c.source.detached).toContain(c.sub);
  });
});

describe("Subscription: deliveries", () => {
  it("delivers only its tenant's records; records of another tenant or of none go to nobody", async () => {
    const c = await streaming();
    c.sub.offer(0, [rec(0, 0, "h1"), rec(0, 1, "h1", { tenant: "globex" }), rec(0, 2, "h2", { tenant: null }), rec(0, 3, "h3")], 1234);
    expect(c.transport.deliveries.map((d) => d.key)).toEqual(["h1", "h3"]);
    const [d] = c.transport.deliveries;
    expect(d).toMatchObject({
      key: "h1",
      kind: "weir.events.v1.HttpAccessLog",
      contentType: "application/x-protobuf; messageType=weir.events.v1.HttpAccessLog",
      timestampMs: 1_700_000_000_000n,
      readAtMs: 1234n,
    });
    expect(valueOf(d!)).toBe("0:0");
  });

  it("delivers records of one key only", async () => {
    const c = await streaming({ key: "web-1" });
    c.sub.offer(0, [rec(0, 0, "web-1"), rec(0, 1, "web-10"), rec(0, 2, "web"), rec(0, 3, "web-1")], 0);
    expect(c.transport.deliveries.map(valueOf)).toEqual(["0:0", "0:3"]);
  });

  it("delivers records of keys starting with a prefix only", async () => {
    const c = await streaming({ keyPrefix: "eu-" });
    c.sub.offer(1, [rec(1, 0, "eu-1"), rec(1, 1, "us-1"), rec(1, 2, "eu-2"), rec(1, 3, "xeu-3"), rec(1, 4, "eu-")], 0);
    expect(c.transport.deliveries.map((d) => d.key)).toEqual(["eu-1", "eu-2", "eu-"]);
  });

  it("gives every delivery the resume token for right after it (all partitions' positions)", async () => {
    const c = await streaming();
    const topic = catalog.get(ACCESS)!.topic;
    c.source.start = [0, 0, 0, 0, 0, 0];
    c.sub.offer(2, [rec(2, 0, "a"), rec(2, 1, "b", { tenant: "globex" }), rec(2, 2, "c")], 0);
    c.sub.advance(2, 5); // e.g. a transaction marker at 3..4
    c.sub.offer(4, [rec(4, 7, "d")], 0);
    c.sub.offer(2, [rec(2, 5, "e")], 0);
    const tokens = c.transport.deliveries.map((d) => decodeResumeToken(d.resumeToken, topic, PARTITIONS));
    expect(tokens).toEqual([
      [0, 0, 1, 0, 0, 0],
      [0, 0, 3, 0, 0, 0], // skipped globex's record at 1 is behind it too
      [0, 0, 5, 0, 8, 0],
      [0, 0, 6, 0, 8, 0],
    ]);
    expect(c.sub.next).toEqual([0, 0, 6, 0, 8, 0]);
  });

  it("skips offsets below `next` (a repeated fetch or the catch-up/tail overlap), so nothing is delivered twice", async () => {
    const c = connect();
    c.source.start = [0, 10, 0, 0, 0, 0]; // starts at offset 10 of partition 1
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame(), true);
    await flushMicrotasks();
    c.sub.offer(
      1,
      [8, 9, 10, 11].map((o) => rec(1, o, "k")),
      0,
    );
    c.sub.offer(
      1,
      [10, 11, 12].map((o) => rec(1, o, "k")),
      0,
    ); // overlap: only 12 is new
    expect(c.transport.deliveries.map(valueOf)).toEqual(["1:10", "1:11", "1:12"]);
  });

  it("advance() only moves a partition forward", async () => {
    const c = await streaming();
    c.sub.advance(0, 10);
    c.sub.advance(0, 4);
    expect(c.sub.next[0]).toBe(10);
    c.sub.offer(0, [rec(0, 9, "k"), rec(0, 10, "k")], 0);
    expect(c.transport.deliveries.map(valueOf)).toEqual(["0:10"]);
  });

  it("queues deliveries offered while attaching (the catch-up read) and sends them after Subscribed, in order", async () => {
    const c = connect();
    c.source.immediate = false;
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame(), true);
    await flushMicrotasks();
    c.sub.offer(0, [rec(0, 0, "a"), rec(0, 1, "b")], 0);
    c.sub.offer(3, [rec(3, 0, "c")], 0);
    expect(c.transport.deliveries).toEqual([]);
    expect(c.sub.pending).toBe(3);
    c.source.attached[0]!.done.resolve();
    await flushMicrotasks();
    expect(c.transport.frames.map((f) => f.case)).toEqual(["welcome", "subscribed", "deliveries"]);
    expect(c.transport.deliveries.map(valueOf)).toEqual(["0:0", "0:1", "3:0"]);
    expect(c.sub.pending).toBe(0);
  });

  it("sends at most 500 deliveries per frame", async () => {
    const c = await streaming({}, { maxPending: 10_000, maxSendBufferBytes: 64 * 1024 * 1024 });
    c.sub.offer(
      0,
      Array.from({ length: 1234 }, (_, o) => rec(0, o, "k")),
      0,
    );
    expect(c.transport.framesOf("deliveries").map((b) => b.deliveries.length)).toEqual([500, 500, 234]);
    expect(c.transport.deliveries.map(valueOf)).toEqual(Array.from({ length: 1234 }, (_, o) => `0:${o}`));
  });

  it("keeps a frame to about maxSendBufferBytes (at least one delivery), so one frame cannot overshoot the buffer by much", async () => {
    const c = await streaming({}, { maxPending: 10_000, maxSendBufferBytes: 10_000 });
    const big = "x".repeat(3000);
    c.sub.offer(
      0,
      Array.from({ length: 10 }, (_, o) => rec(0, o, "k", { value: big })),
      0,
    );
    c.sub.offer(0, [rec(0, 10, "k", { value: "y".repeat(50_000) })], 0); // bigger than the budget: alone
    const frames = c.transport.framesOf("deliveries").map((b) => b.deliveries.length);
    expect(frames).toEqual([3, 3, 3, 1, 1]);
    for (const bytes of c.transport.sent.slice(0, 4)) expect(bytes.byteLength).toBeLessThanOrEqual(10_000);
    expect(c.transport.deliveries).toHaveLength(11);
  });

  it("sends nothing after the socket closed", async () => {
    const c = await streaming();
    c.sub.onClose();
    c.sub.offer(0, [rec(0, 0, "a")], 0);
    c.sub.onDrain();
    expect(c.transport.sent).toEqual([]);
    expect(c.source.detached).toContain(c.sub);
  });
});

describe("Subscription: a slow subscriber", () => {
  it("queues while the send buffer is over the limit and flushes, in order, when it drains", async () => {
    const c = await streaming({}, { maxSendBufferBytes: 1000, maxPending: 100 });
    c.transport.buffered = 1001;
    c.sub.offer(0, [rec(0, 0, "a"), rec(0, 1, "b")], 0);
    c.sub.offer(1, [rec(1, 0, "c")], 0);
    expect(c.transport.sent).toEqual([]);
    expect(c.sub.pending).toBe(3);
    c.sub.onDrain(); // still over: nothing
    expect(c.transport.sent).toEqual([]);
    c.transport.buffered = 1000;
    c.sub.onDrain();
    expect(c.transport.deliveries.map(valueOf)).toEqual(["0:0", "0:1", "1:0"]);
    expect(c.sub.pending).toBe(0);
  });

  it("keeps the order: a delivery arriving while others wait joins the queue even if the buffer has room", async () => {
    const c = await streaming({}, { maxSendBufferBytes: 1000 });
    c.transport.buffered = 5000;
    c.sub.offer(0, [rec(0, 0, "a")], 0);
    c.transport.buffered = 0;
    c.sub.offer(0, [rec(0, 1, "a")], 0); // before the drain event
    c.sub.onDrain();
    expect(c.transport.deliveries.map(valueOf)).toEqual(["0:0", "0:1"]);
  });

  it("flushes only while the socket takes it: a drain that fills the buffer again leaves the rest queued", async () => {
    const c = await streaming({}, { maxSendBufferBytes: 1000, maxPending: 5000 });
    c.transport.buffered = 2000;
    c.sub.offer(
      0,
      Array.from({ length: 1500 }, (_, o) => rec(0, o, `k${o}`)),
      0,
    );
    expect(c.sub.pending).toBe(1500);
    c.transport.buffered = 0;
    c.transport.growing = true; // every frame adds its bytes
    const over = watchOverLimit(c.transport, 1000);
    c.sub.onDrain();
    const first = c.transport.deliveries.length;
    expect(first).toBeGreaterThan(0);
    expect(c.sub.pending).toBe(1500 - first);
    for (let drains = 0; c.sub.pending > 0 && drains < 2000; drains++) {
      c.transport.buffered = 0;
      c.sub.onDrain();
    }
    expect(c.sub.pending).toBe(0);
    expect(over).toEqual([]);
    expect(c.transport.deliveries.map(valueOf)).toEqual(Array.from({ length: 1500 }, (_, o) => `0:${o}`));
  });

  it("does not write past the send-buffer limit: of a large batch, what the socket cannot take waits in the queue", async () => {
    // uWS drops (silently) a message sent while the socket's buffer is over its maxBackpressure,
    // so every frame must be sent only while the buffer is under our limit.
    const c = await streaming({}, { maxSendBufferBytes: 1000, maxPending: 5000 });
    c.transport.growing = true;
    const over = watchOverLimit(c.transport, 1000);
    c.sub.offer(
      0,
      Array.from({ length: 1500 }, (_, o) => rec(0, o, `k${o}`)),
      0,
    );
    expect(over).toEqual([]);
    expect(c.transport.buffered).toBeLessThanOrEqual(2 * 1000); // the limit plus one frame of about the limit
    expect(c.sub.pending).toBe(1500 - c.transport.deliveries.length);
    c.transport.growing = false;
    c.transport.buffered = 0;
    c.sub.onDrain();
    expect(c.transport.deliveries.map(valueOf)).toEqual(Array.from({ length: 1500 }, (_, o) => `0:${o}`));
  });

  it('"disconnect": closes with WEIR_ERR_SLOW_SUBSCRIBER and 4409 once more than maxPending wait, and detaches', async () => {
    const c = await streaming({}, { maxSendBufferBytes: 1000, maxPending: 5 });
    c.transport.buffered = 1_000_000;
    c.sub.offer(
      0,
      [0, 1, 2, 3, 4].map((o) => rec(0, o, "k")),
      0,
    );
    expect(c.transport.closed).toBeUndefined();
    expect(c.sub.pending).toBe(5);
    c.sub.offer(0, [rec(0, 5, "k")], 0);
    expectClosedWith(c, "WEIR_ERR_SLOW_SUBSCRIBER", 4409);
    expect(c.transport.framesOf("deliveries")).toEqual([]);
    expect(c.source.detached).toContain(c.sub);
    // Later records and drains do nothing (the fake transport throws on a send after close).
    c.sub.offer(0, [rec(0, 6, "k")], 0);
    c.transport.buffered = 0;
    c.sub.onDrain();
    expect(c.transport.frames.filter((f) => f.case !== "error")).toEqual([]);
  });

  it('"disconnect": records of other tenants do not count against a slow subscriber', async () => {
    const c = await streaming({}, { maxSendBufferBytes: 1000, maxPending: 5 });
    c.transport.buffered = 1_000_000;
    c.sub.offer(
      0,
      Array.from({ length: 100 }, (_, o) => rec(0, o, "k", { tenant: "globex" })),
      0,
    );
    expect(c.transport.closed).toBeUndefined();
    expect(c.sub.pending).toBe(0);
  });

  it('"conflate": keeps the latest delivery per key while backed up, never closes within maxPending keys', async () => {
    const c = await streaming({ stream: QUOTES }, { maxSendBufferBytes: 1000, maxPending: 3 });
    const topic = catalog.get(QUOTES)!.topic;
    c.transport.buffered = 1_000_000;
    let offset = 0;
    for (let round = 0; round < 50; round++) {
      for (const sym of ["MSFT", "AAPL", "ACME"]) c.sub.offer(0, [rec(0, offset++, sym, { stream: QUOTES, value: `${sym}@${round}` })], 0);
    }
    expect(c.transport.closed).toBeUndefined();
    expect(c.sub.pending).toBe(3);
    c.transport.buffered = 0;
    c.sub.onDrain();
    const got = c.transport.deliveries;
    expect(got.map(valueOf)).toEqual(["MSFT@49", "AAPL@49", "ACME@49"]);
    // Each carries the token of its own record: resuming from the last one starts after everything.
    expect(decodeResumeToken(got.at(-1)!.resumeToken, topic, PARTITIONS)).toEqual([150, 0, 0, 0, 0, 0]);
    expect(decodeResumeToken(got[0]!.resumeToken, topic, PARTITIONS)).toEqual([148, 0, 0, 0, 0, 0]);
  });

  it('"conflate": closes with 4409 when more than maxPending distinct keys wait', async () => {
    const c = await streaming({ stream: QUOTES }, { maxSendBufferBytes: 1000, maxPending: 3 });
    c.transport.buffered = 1_000_000;
    c.sub.offer(
      0,
      ["A", "B", "C", "A", "B"].map((s, o) => rec(0, o, s, { stream: QUOTES })),
      0,
    );
    expect(c.transport.closed).toBeUndefined();
    c.sub.offer(0, [rec(0, 5, "D", { stream: QUOTES })], 0);
    expectClosedWith(c, "WEIR_ERR_SLOW_SUBSCRIBER", 4409);
  });

  it('"conflate": delivers every update while the socket keeps up', async () => {
    const c = await streaming({ stream: QUOTES }, { maxSendBufferBytes: 1000, maxPending: 3 });
    c.sub.offer(
      0,
      ["A", "A", "A", "B"].map((s, o) => rec(0, o, s, { stream: QUOTES })),
      0,
    );
    expect(c.transport.deliveries.map(valueOf)).toEqual(["0:0", "0:1", "0:2", "0:3"]);
  });
});

describe("Subscription: its own catch-up read, at its pace (offerPaced)", () => {
  it("offers a backlog many times maxPending without closing a subscriber that reads: a chunk at a time, each after the last was taken", async () => {
    const c = await streaming({}, { maxSendBufferBytes: 1000, maxPending: 50 });
    c.transport.growing = true;
    const over = watchOverLimit(c.transport, 1000);
    const sampler: number[] = [];
    const done = track(
      c.sub.offerPaced(
        0,
        Array.from({ length: 2000 }, (_, o) => rec(0, o, `k${o % 7}`)),
        0,
      ),
    );
    for (let drains = 0; !done.settled && drains < 10_000; drains++) {
      await flushMicrotasks();
      sampler.push(c.sub.pending);
      c.transport.buffered = 0; // the client read everything
      c.sub.onDrain();
    }
    await done.promise;
    for (let drains = 0; c.sub.pending > 0 && drains < 100; drains++) {
      c.transport.buffered = 0; // the last chunk may still wait in the queue
      c.sub.onDrain();
    }
    expect(c.transport.closed).toBeUndefined();
    expect(Math.max(...sampler)).toBeLessThanOrEqual(50);
    expect(over).toEqual([]);
    expect(c.transport.deliveries.map(valueOf)).toEqual(Array.from({ length: 2000 }, (_, o) => `0:${o}`));
  });

  it("waits while the socket is backed up, and goes on when it drains", async () => {
    const c = await streaming({}, { maxSendBufferBytes: 1000, maxPending: 10 });
    c.transport.buffered = 5000;
    const done = track(
      c.sub.offerPaced(
        0,
        Array.from({ length: 25 }, (_, o) => rec(0, o, "k")),
        0,
      ),
    );
    await flushMicrotasks();
    expect(done.settled).toBe(false);
    expect(c.sub.pending).toBe(0); // nothing taken from the read while the socket is full
    c.transport.buffered = 0;
    c.sub.onDrain();
    await done.promise;
    expect(c.transport.deliveries).toHaveLength(25);
  });

  it("waits for Subscribed before offering (the catch-up may start while attaching)", async () => {
    const c = connect({ maxPending: 10 });
    c.source.immediate = false;
    c.sub.onMessage(hello(), true);
    c.sub.onMessage(subscribeFrame(), true);
    await flushMicrotasks();
    const done = track(
      c.sub.offerPaced(
        0,
        Array.from({ length: 25 }, (_, o) => rec(0, o, "k")),
        0,
      ),
    );
    await flushMicrotasks();
    expect(c.sub.pending).toBe(0);
    c.source.attached[0]!.done.resolve();
    await done.promise;
    expect(c.transport.frames.map((f) => f.case).slice(0, 2)).toEqual(["welcome", "subscribed"]);
    expect(c.transport.deliveries).toHaveLength(25);
  });

  it.each([
    ["the socket closes", (sub: Subscription) => sub.onClose()],
    ["the subscription fails", (sub: Subscription) => sub.fail(new WeirError("WEIR_ERR_SUBSCRIPTION_FAILED", "test"))],
  ])("stops waiting when %s (a stopped catch-up read must not hang)", async (_, end) => {
    const c = await streaming({}, { maxSendBufferBytes: 1000, maxPending: 10 });
    c.transport.buffered = 5000;
    const done = track(
      c.sub.offerPaced(
        0,
        Array.from({ length: 25 }, (_, o) => rec(0, o, "k")),
        0,
      ),
    );
    await flushMicrotasks();
    end(c.sub);
    await done.promise;
    expect(c.transport.deliveries).toEqual([]);
  });
});

describe("Subscription: shared deliveries (adopt)", () => {
  it("a subscriber with the lead's signature gets the same deliveries, the same position and the very same encoded frame", async () => {
    const lead = await streaming();
    const member = await streaming();
    expect(member.sub.signature()).toBe(lead.sub.signature());
    const records = [rec(1, 0, "web-1"), rec(1, 1, "web-2"), rec(1, 2, "web-1")];
    const deliveries = lead.sub.offer(1, records, 0);
    member.sub.adopt(lead.sub, 1, records, deliveries);
    expect(deliveries).toHaveLength(3);
    expect(member.sub.next).toEqual(lead.sub.next);
    expect(member.transport.sent).toHaveLength(1);
    expect(member.transport.sent[0]).toBe(lead.transport.sent[0]); // encoded once, sent twice
    expect(member.transport.deliveries.map(valueOf)).toEqual(["1:0", "1:1", "1:2"]);
  });

  it("a member whose socket is backed up queues the shared deliveries and gets them on drain; the lead is not held up", async () => {
    const lead = await streaming();
    const member = await streaming();
    member.transport.buffered = 1_000_000;
    const records = [rec(2, 5, "web-3"), rec(2, 6, "web-3")];
    member.sub.adopt(lead.sub, 2, records, lead.sub.offer(2, records, 0));
    expect(lead.transport.deliveries.map(valueOf)).toEqual(["2:5", "2:6"]);
    expect(member.transport.sent).toHaveLength(0);
    expect(member.sub.pending).toBe(2);
    member.transport.buffered = 0;
    member.sub.onDrain();
    expect(member.transport.deliveries.map(valueOf)).toEqual(["2:5", "2:6"]);
    expect(member.transport.deliveries.map((d) => d.resumeToken)).toEqual(lead.transport.deliveries.map((d) => d.resumeToken));
  });
});
