/**
 * Same bad input, same answer: one table of misbehaving clients run against the gateway's
 * /v1/ingest (the real uWS server, a held publisher instead of Kafka) and against the edge relay
 * (the Relay class behind a `ws` server, a held outbox instead of an uplink). Each case expects
 * one ProtocolError frame with the error code, then the close code, on both.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import WebSocketNode, { WebSocketServer } from "ws";
import { ClientFrameSchema, ServerFrameSchema, type EventResult, type ServerFrame } from "../../src/gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { MemoryOutbox, WeirClient, type OutboxEntry } from "../../src/client/index.js";
import { startServer, type RunningServer } from "../../gateway/server.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import type { Publisher } from "../../src/protocol/ports.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { parseRelayConfig } from "../../src/relay/config.js";
import { Relay } from "../../src/relay/relay.js";
import { silentLogger } from "../../src/log.js";
import { quoteEvent } from "../unit-fixtures/events.js";

const TENANT = "acme";
const KEY = "s3cret";
const CREDIT = 4;
const MAX_BATCH = 3;
const HELLO_TIMEOUT_MS = 300;

type Frame = MessageInitShape<typeof ClientFrameSchema>["frame"];
type Sent = { frame: Frame } | { text: string } | { bytes: Uint8Array };

const hello = (fields: { protocolVersion?: number; tenant?: string; apiKey?: string } = {}): Sent => ({
  frame: { case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: TENANT, apiKey: KEY, clientId: "table", ...fields } },
});
const publish = (seq: number, n: number): Sent => ({
  frame: { case: "publish", value: { seq: BigInt(seq), events: Array.from({ length: n }, (_, i) => quoteEvent(`q-${seq}-${i}`)) } },
});

/** Misbehaviour → the error code and close code every server answers it with. */
const table: Array<{ name: string; send: Sent[]; code: string; close: number }> = [
  { name: "a text frame", send: [{ text: "hello?" }], code: "WEIR_ERR_BAD_FRAME", close: 4400 },
  { name: "bytes that are no frame", send: [{ bytes: new Uint8Array([0xff, 0xff, 0xff, 0xff]) }], code: "WEIR_ERR_BAD_FRAME", close: 4400 },
  { name: "a frame of no known kind", send: [{ frame: { case: undefined } }], code: "WEIR_ERR_BAD_FRAME", close: 4400 },
  { name: "Publish before Hello", send: [publish(1, 1)], code: "WEIR_ERR_HELLO_REQUIRED", close: 4403 },
  { name: "Ping before Hello", send: [{ frame: { case: "ping", value: { nonce: 1n } } }], code: "WEIR_ERR_HELLO_REQUIRED", close: 4403 },
  { name: "another protocol version", send: [hello({ protocolVersion: PROTOCOL_VERSION + 1 })], code: "WEIR_ERR_UNSUPPORTED_VERSION", close: 4426 },
  { name: "a bad key", send: [hello({ apiKey: "wrong" })], code: "WEIR_ERR_UNAUTHORIZED", close: 4401 },
  { name: "an unknown tenant", send: [hello({ tenant: "nobody" })], code: "WEIR_ERR_UNAUTHORIZED", close: 4401 },
  { name: "Hello twice", send: [hello(), hello()], code: "WEIR_ERR_BAD_FRAME", close: 4400 },
  {
    name: "a Subscribe on the ingest endpoint",
    send: [hello(), { frame: { case: "subscribe", value: { stream: "alerts" } } }],
    code: "WEIR_ERR_BAD_FRAME",
    close: 4400,
  },
  { name: "a batch over max_batch_events", send: [hello(), publish(1, MAX_BATCH + 1)], code: "WEIR_ERR_BATCH_TOO_LARGE", close: 4413 },
  // The first batch is held unanswered, so the second finds only CREDIT - MAX_BATCH credits.
  { name: "a batch over the credit left", send: [hello(), publish(1, MAX_BATCH), publish(2, 2)], code: "WEIR_ERR_CREDIT_EXCEEDED", close: 4429 },
  { name: "no Hello in time", send: [], code: "WEIR_ERR_HELLO_TIMEOUT", close: 4408 },
];

type Server = { url: string; close(): Promise<void> };

/** A publisher that answers nothing until the test ends (batches stay in flight, credit spent). */
class HeldPublisher implements Publisher {
  private release: (() => void) | undefined;
  private readonly released = new Promise<void>((resolve) => (this.release = resolve));
  async publish(_tenant: string, events: readonly Envelope[]): Promise<EventResult[]> {
    await this.released;
    return events.map((e) => ({ $typeName: "weir.v1.EventResult", id: e.id, code: 0, errorCode: "", reason: "", retryAfterMs: 0 }));
  }
  open(): void {
    this.release!();
  }
}

async function gatewayServer(): Promise<Server> {
  const publisher = new HeldPublisher();
  const authenticator = apiKeyAuthenticator(new Map([[TENANT, KEY]]));
  const server: RunningServer = await startServer({
    host: "127.0.0.1",
    port: 0,
    maxFrameBytes: 1 << 20,
    maxSendBufferBytes: 1 << 20,
    logger: silentLogger,
    metrics: () => Promise.resolve({ contentType: "text/plain", body: "" }),
    stats: () => ({}),
    readiness: () => ({ ready: true, checks: {} }),
    connection: {
      publisher,
      authenticator,
      serverId: "gw-table",
      limits: {
        connectionCredit: CREDIT,
        maxBatchEvents: MAX_BATCH,
        maxEventBytes: 1024,
        maxFrameBytes: 1 << 20,
        maxSendBufferBytes: 1 << 20,
        helloTimeoutMs: HELLO_TIMEOUT_MS,
      },
    },
    subscription: {
      authenticator,
      source: { stream: () => undefined, streamNames: () => [], attach: async () => {}, detach: () => {} },
      limits: { helloTimeoutMs: HELLO_TIMEOUT_MS, maxSendBufferBytes: 1 << 20, maxPending: 10 },
    },
  });
  return {
    url: `ws://127.0.0.1:${server.port}/v1/ingest`,
    close: () => {
      server.stopListening();
      for (const c of server.connections) c.onClose();
      publisher.open();
      return Promise.resolve();
    },
  };
}

/** An outbox whose writes wait until the test ends: stored events are never acked to devices meanwhile. */
class HeldOutbox extends MemoryOutbox {
  private release: (() => void) | undefined;
  private readonly released = new Promise<void>((resolve) => (this.release = resolve));
  override async append(entries: readonly OutboxEntry[]): Promise<void> {
    await this.released;
    return super.append(entries);
  }
  open(): void {
    this.release!();
  }
}

async function relayServer(): Promise<Server> {
  const outbox = new HeldOutbox();
  // The uplink goes nowhere: the relay's answers depend only on its outbox.
  const upstream = await WeirClient.open({ urls: "ws://127.0.0.1:9/v1/ingest", tenant: "up", apiKey: "up", outbox, backoff: { initialMs: 1000, maxMs: 1000 } });
  const config = parseRelayConfig({
    upstream: { urls: ["ws://127.0.0.1:9/v1/ingest"], tenant: "up", apiKey: "up" },
    devices: [`${TENANT}:${KEY}`],
    credit: CREDIT,
    maxBatchEvents: MAX_BATCH,
    helloTimeoutMs: HELLO_TIMEOUT_MS,
  });
  const relay = new Relay(config, upstream);
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((resolve) => wss.once("listening", resolve));
  wss.on("connection", (ws) => relay.accept(ws as unknown as WebSocket));
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/v1/ingest`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
      outbox.open();
      await upstream.close();
    },
  };
}

/** Connects, sends `sent` in order, and returns the ProtocolErrors it got and how it was closed. */
async function misbehave(
  url: string,
  sent: readonly Sent[],
): Promise<{ errors: Array<{ errorCode: string; closeCode: number }>; close: { code: number; reason: string } }> {
  const ws = new WebSocketNode(url);
  const frames: Array<ServerFrame["frame"]> = [];
  ws.on("message", (data: Buffer) => frames.push(fromBinary(ServerFrameSchema, new Uint8Array(data)).frame));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  for (const s of sent) {
    if ("text" in s) ws.send(s.text);
    else if ("bytes" in s) ws.send(s.bytes);
    else ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: s.frame })));
  }
  const close = await closed;
  const errors = frames.flatMap((f) => (f.case === "error" ? [{ errorCode: f.value.errorCode, closeCode: f.value.closeCode }] : []));
  return { errors, close };
}

describe.each([
  ["the gateway", gatewayServer],
  ["the relay", relayServer],
] as const)("%s refuses bad input", (_name, start) => {
  let server: Server;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(table)("$name: $code, close $close", async ({ send, code, close }) => {
    const got = await misbehave(server.url, send);
    expect(got.errors).toEqual([{ errorCode: code, closeCode: close }]);
    expect(got.close).toEqual({ code: close, reason: code });
  });
});
