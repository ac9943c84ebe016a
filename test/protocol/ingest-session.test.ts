import { afterEach, describe, expect, it, vi } from "vitest";
import { IngestSession, type IngestLimits } from "../../src/protocol/ingest-session.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { ResultCode } from "../../src/gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { ingestHarness, quoteEvent } from "../unit-fixtures/events.js";
import { clientFrame, FakeTransport } from "../unit-fixtures/fake-transport.js";
import { SMALL_INGEST_LIMITS } from "../unit-fixtures/session-limits.js";
import { flushMicrotasks, track, until } from "../unit-fixtures/fake-ports.js";

const TENANT = "acme";
const API_KEY = "s3cret-key";

const defaultLimits: IngestLimits = SMALL_INGEST_LIMITS;

const open: IngestSession[] = [];

afterEach(() => {
  for (const conn of open.splice(0)) conn.onClose();
  vi.useRealTimers();
});

function connect(limits: Partial<IngestLimits> = {}) {
  const h = ingestHarness();
  const transport = new FakeTransport();
  const conn = new IngestSession(transport, {
    publisher: h.service,
    authenticator: apiKeyAuthenticator(
      new Map([
        [TENANT, API_KEY],
        ["globex", "other-key"],
      ]),
    ),
    limits: { ...defaultLimits, ...limits },
    serverId: "gw-test",
  });
  open.push(conn);
  return { h, transport, conn };
}

const hello = (fields: { protocolVersion?: number; tenant?: string; apiKey?: string } = {}) =>
  clientFrame({ case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: TENANT, apiKey: API_KEY, clientId: "unit", ...fields } });
const publish = (seq: number, events: Envelope[]) => clientFrame({ case: "publish", value: { seq: BigInt(seq), events } });
const ping = (nonce: bigint) => clientFrame({ case: "ping", value: { nonce } });
const quotes = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => quoteEvent(`${prefix}-${i}`));

/** Connects and completes the Hello, dropping the Welcome from the recorded frames. */
function ready(limits: Partial<IngestLimits> = {}) {
  const c = connect(limits);
  c.conn.onMessage(hello(), true);
  expect(c.transport.framesOf("welcome")).toHaveLength(1);
  c.transport.sent.length = 0;
  return c;
}

/** Asserts the connection ended with one ProtocolError frame of `errorCode`, then `closeCode`. */
function expectClosedWith(transport: FakeTransport, errorCode: string, closeCode: number) {
  const last = transport.frames.at(-1);
  expect(last?.case).toBe("error");
  expect(last?.value).toMatchObject({ errorCode, closeCode });
  expect(transport.closed).toEqual({ code: closeCode, reason: errorCode });
}

describe("IngestSession: Hello", () => {
  it("answers Hello with a Welcome carrying the credit and limits", () => {
    const { transport, conn } = connect();
    conn.onMessage(hello(), true);
    expect(transport.frames.map((f) => f.case)).toEqual(["welcome"]);
    expect(transport.framesOf("welcome")[0]).toMatchObject({
      sessionId: conn.sessionId,
      credit: 4,
      maxBatchEvents: 3,
      maxEventBytes: 1024,
      maxFrameBytes: 65_536,
      gatewayId: "gw-test",
    });
    expect(transport.closed).toBeUndefined();
  });

  it.each([
    ["a wrong API key", { apiKey: "wrong-key!" }],
    ["another tenant's API key", { apiKey: "other-key" }],
    ["an unknown tenant", { tenant: "initech" }],
    ["an empty API key", { apiKey: "" }],
  ])("refuses %s with WEIR_ERR_UNAUTHORIZED and close 4401", (_, fields) => {
    const { transport, conn } = connect();
    conn.onMessage(hello(fields), true);
    expect(transport.frames).toHaveLength(1);
    expectClosedWith(transport, "WEIR_ERR_UNAUTHORIZED", 4401);
  });

  it.each([0, 2])("refuses protocol version %i with WEIR_ERR_UNSUPPORTED_VERSION and close 4426", (protocolVersion) => {
    const { transport, conn } = connect();
    conn.onMessage(hello({ protocolVersion }), true);
    expectClosedWith(transport, "WEIR_ERR_UNSUPPORTED_VERSION", 4426);
    expect(transport.framesOf("welcome")).toEqual([]);
  });

  it("refuses a second Hello with WEIR_ERR_BAD_FRAME and close 4400", () => {
    const { transport, conn } = ready();
    conn.onMessage(hello(), true);
    expectClosedWith(transport, "WEIR_ERR_BAD_FRAME", 4400);
  });

  it("closes with WEIR_ERR_HELLO_TIMEOUT and 4408 when no Hello arrives within helloTimeoutMs", async () => {
    vi.useFakeTimers();
    const { transport } = connect({ helloTimeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(999);
    expect(transport.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expectClosedWith(transport, "WEIR_ERR_HELLO_TIMEOUT", 4408);
    expect(transport.framesOf("error")[0]?.message).toContain("1000 ms");
  });

  it("keeps a connection whose Hello arrived in time open past helloTimeoutMs", async () => {
    vi.useFakeTimers();
    const { transport, conn } = connect({ helloTimeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(500);
    conn.onMessage(hello(), true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(transport.closed).toBeUndefined();
    expect(transport.frames.map((f) => f.case)).toEqual(["welcome"]);
  });
});

describe("IngestSession: malformed input", () => {
  it("closes with WEIR_ERR_HELLO_REQUIRED and 4403 on a publish before Hello, publishing nothing", async () => {
    const { h, transport, conn } = connect();
    conn.onMessage(publish(1, quotes("e", 1)), true);
    expectClosedWith(transport, "WEIR_ERR_HELLO_REQUIRED", 4403);
    await flushMicrotasks();
    expect(h.log.calls).toHaveLength(0);
  });

  it("closes with WEIR_ERR_BAD_FRAME and 4400 on a text frame", () => {
    const { transport, conn } = ready();
    conn.onMessage(new TextEncoder().encode('{"hello":{}}'), false);
    expectClosedWith(transport, "WEIR_ERR_BAD_FRAME", 4400);
  });

  it("closes with WEIR_ERR_BAD_FRAME and 4400 on bytes that are not a ClientFrame", () => {
    const { transport, conn } = ready();
    conn.onMessage(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), true);
    expectClosedWith(transport, "WEIR_ERR_BAD_FRAME", 4400);
  });

  it("closes with WEIR_ERR_BAD_FRAME and 4400 on a frame of no known kind", () => {
    const { transport, conn } = ready();
    conn.onMessage(new Uint8Array(0), true);
    expectClosedWith(transport, "WEIR_ERR_BAD_FRAME", 4400);
  });

  it("ignores every message after it closed", () => {
    const { transport, conn } = ready();
    conn.onMessage(new Uint8Array([0xff]), true);
    const sent = transport.sent.length;
    conn.onMessage(ping(1n), true);
    conn.onMessage(hello(), true);
    expect(transport.sent).toHaveLength(sent);
  });
});

describe("IngestSession: batches and credit", () => {
  it("publishes a batch and answers a PublishResult echoing its seq, one result per event", async () => {
    const { h, transport, conn } = ready();
    conn.onMessage(publish(7, quotes("e", 2)), true);
    await conn.idle();
    const [result] = transport.framesOf("result");
    expect(result?.seq).toBe(7n);
    expect(result?.results.map((r) => [r.id, r.code])).toEqual([
      ["e-0", ResultCode.ACK],
      ["e-1", ResultCode.ACK],
    ]);
    expect(h.log.records).toHaveLength(2);
  });

  it("closes with WEIR_ERR_BATCH_TOO_LARGE and 4413 on a batch larger than maxBatchEvents, publishing nothing", async () => {
    const { h, transport, conn } = ready({ maxBatchEvents: 3, connectionCredit: 10 });
    conn.onMessage(publish(1, quotes("e", 4)), true);
    expectClosedWith(transport, "WEIR_ERR_BATCH_TOO_LARGE", 4413);
    await flushMicrotasks();
    expect(h.log.calls).toHaveLength(0);
    expect(conn.inFlight).toBe(0);
  });

  it("closes with WEIR_ERR_CREDIT_EXCEEDED and 4429 on a batch beyond the remaining credit", async () => {
    const { h, transport, conn } = ready({ connectionCredit: 4, maxBatchEvents: 3 });
    h.log.holdAll();
    conn.onMessage(publish(1, quotes("a", 3)), true);
    await h.log.call(1);
    conn.onMessage(publish(2, quotes("b", 2)), true);
    expectClosedWith(transport, "WEIR_ERR_CREDIT_EXCEEDED", 4429);
    expect(transport.framesOf("error")[0]?.message).toBe("batch of 2 events exceeds the 1 credits granted");
    await flushMicrotasks();
    expect(h.log.calls).toHaveLength(1);
    expect(conn.inFlight).toBe(1);
  });

  it("spends credit per event and returns it with each PublishResult", async () => {
    const { h, transport, conn } = ready({ connectionCredit: 4, maxBatchEvents: 3 });
    h.log.holdAll();
    conn.onMessage(publish(1, quotes("a", 3)), true);
    conn.onMessage(publish(2, quotes("b", 1)), true); // exactly the credit left
    const first = await h.log.call(1);
    const second = await h.log.call(2);
    expect(transport.closed).toBeUndefined();
    expect(conn.inFlight).toBe(2);

    first.ack();
    second.ack();
    await conn.idle();
    expect(transport.framesOf("result").map((r) => [r.seq, r.credit, r.results.length])).toEqual([
      [1n, 3, 3],
      [2n, 1, 1],
    ]);

    // All four credits are back: a full batch and one more event fit again.
    h.log.ackAll();
    conn.onMessage(publish(3, quotes("c", 3)), true);
    conn.onMessage(publish(4, quotes("d", 1)), true);
    await conn.idle();
    expect(transport.closed).toBeUndefined();
    expect(transport.framesOf("result").map((r) => r.seq)).toEqual([1n, 2n, 3n, 4n]);
  });
});

describe("IngestSession: slow readers", () => {
  it("closes with WEIR_ERR_SLOW_READER and 4409 when the transport buffers more than maxSendBufferBytes, without recursing", () => {
    const { transport, conn } = connect({ maxSendBufferBytes: 4096 });
    transport.buffered = 4097;
    conn.onMessage(hello(), true);
    // The ProtocolError itself is written without the buffer check, once.
    expect(transport.frames.map((f) => f.case)).toEqual(["error"]);
    expectClosedWith(transport, "WEIR_ERR_SLOW_READER", 4409);
    expect(transport.framesOf("error")[0]?.message).toContain("4097 bytes unsent");
    expect(transport.bufferedCalls).toBe(1);
  });

  it("sends while the buffer is at maxSendBufferBytes exactly", () => {
    const { transport, conn } = connect({ maxSendBufferBytes: 4096 });
    transport.buffered = 4096;
    conn.onMessage(hello(), true);
    expect(transport.frames.map((f) => f.case)).toEqual(["welcome"]);
  });

  it("closes a slow reader with 4409 instead of sending its PublishResult", async () => {
    const { h, transport, conn } = ready();
    h.log.holdAll();
    conn.onMessage(publish(1, quotes("e", 1)), true);
    const call = await h.log.call(1);
    transport.buffered = 1_000_000;
    call.ack();
    await conn.idle();
    expect(transport.framesOf("result")).toEqual([]);
    expectClosedWith(transport, "WEIR_ERR_SLOW_READER", 4409);
  });
});

describe("IngestSession: ping", () => {
  it("answers a Ping with a Pong carrying the same nonce", () => {
    const { transport, conn } = ready();
    const nonce = 2n ** 63n + 12_345n;
    conn.onMessage(ping(nonce), true);
    expect(transport.frames).toEqual([{ case: "pong", value: expect.objectContaining({ nonce }) as unknown }]);
    expect(transport.closed).toBeUndefined();
  });
});

describe("IngestSession: idle", () => {
  it("resolves idle() at once when no batch is in flight", async () => {
    const { conn } = ready();
    await expect(conn.idle()).resolves.toBeUndefined();
  });

  it("resolves idle() only once every in-flight batch has been answered", async () => {
    const { h, transport, conn } = ready();
    h.log.holdAll();
    conn.onMessage(publish(1, quotes("a", 1)), true);
    conn.onMessage(publish(2, quotes("b", 1)), true);
    const first = await h.log.call(1);
    const second = await h.log.call(2);
    const idle = track(conn.idle());

    first.ack();
    await until(() => expect(transport.framesOf("result")).toHaveLength(1));
    await flushMicrotasks();
    expect(idle.settled).toBe(false);
    expect(conn.inFlight).toBe(1);

    second.ack();
    await idle.promise;
    expect(conn.inFlight).toBe(0);
    expect(transport.framesOf("result").map((r) => r.seq)).toEqual([1n, 2n]);
  });

  it("resolves idle() for a connection that closed with batches in flight, sending nothing more", async () => {
    const { h, transport, conn } = ready();
    h.log.holdAll();
    conn.onMessage(publish(1, quotes("a", 1)), true);
    const call = await h.log.call(1);
    conn.onMessage(new Uint8Array([0xff]), true);
    expectClosedWith(transport, "WEIR_ERR_BAD_FRAME", 4400);
    const sent = transport.sent.length;

    call.ack();
    await conn.idle();
    expect(transport.sent).toHaveLength(sent);
    expect(h.log.records).toHaveLength(1);
  });
});
