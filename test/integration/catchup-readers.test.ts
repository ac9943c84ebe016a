/**
 * Catch-up readers per gateway (issue 15's finding: 100 subscribers starting in the past that
 * never read pinned 1 GiB and opened 100 consumer groups). With WEIR_MAX_CATCHUP_READERS 3, ten
 * subscribers start from the past and stop reading: three catch-up reads run, seven wait their
 * turn, connected; one that leaves while waiting gives up its place; once they read again, each
 * gets the whole backlog in order, and no catch-up read is left behind.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import WebSocket from "ws";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";

const run = `catchup-${Date.now().toString(36)}`;
const tenant = `${run}-t`;
const auth = { tenant, apiKey: "secret" };
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const READERS = 3;
const SUBSCRIBERS = 10;
const N = 2000;
let gateway: Gateway;

beforeAll(async () => {
  // Small buffers, so a subscriber that stops reading holds its catch-up read mid-way.
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:secret`], maxCatchUpReaders: READERS, subscriberMaxPending: 50, maxSendBufferBytes: 64 * 1024 });
});
afterAll(async () => {
  await gateway?.close();
});

type Reader = { ws: WebSocket; got: number[]; subscribed: boolean; closed: boolean };

function subscriber(fromMs: number): Reader {
  const ws = new WebSocket(gateway.url.replace("/v1/ingest", "/v1/subscribe"));
  const r: Reader = { ws, got: [], subscribed: false, closed: false };
  ws.on("message", (data: Buffer) => {
    const frame = fromBinary(ServerFrameSchema, data).frame;
    if (frame.case === "subscribed") r.subscribed = true;
    if (frame.case === "deliveries") for (const d of frame.value.deliveries) r.got.push(Number(fromBinary(HttpAccessLogSchema, d.value).path.split("/")[1]));
  });
  ws.on("close", () => (r.closed = true));
  ws.on("error", () => {});
  ws.on("open", () => {
    const send = (frame: Parameters<typeof create<typeof ClientFrameSchema>>[1]) => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame)));
    send({ frame: { case: "hello", value: { protocolVersion: 1, tenant, apiKey: "secret", clientId: "catchup-test" } } });
    send({
      frame: {
        case: "subscribe",
        value: { stream: "events.weir.events.v1.HttpAccessLog", keyPrefix: `${run}-`, start: { case: "fromTimestampMs", value: BigInt(fromMs) } },
      },
    });
    // Stops reading at once: its catch-up read can only go as far as the buffers allow.
    ws.pause();
  });
  return r;
}

test("at most WEIR_MAX_CATCHUP_READERS catch-up reads run; the rest wait connected, in order, and each gets the whole backlog once it reads", async () => {
  const from = Date.now() - 1000;
  const pad = "p".repeat(2000);
  const events = Array.from({ length: N }, (_, i) =>
    envelopeOf(
      HttpAccessLogSchema,
      { host: `${run}-h`, method: "GET", path: `/${i}/${pad}`, status: 200, userAgent: "a".repeat(1000) },
      { id: `${run}-${i}`, partitionKey: `${run}-h` },
    ),
  );
  const results = await streamAll(gateway.url, auth, events, { connections: 1, batch: 200 });
  expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);

  const readers = Array.from({ length: SUBSCRIBERS }, () => subscriber(from));
  const hub = gateway.subscriptions;
  await waitFor(() => hub.catchUpLoad.waiting === SUBSCRIBERS - READERS, `${SUBSCRIBERS - READERS} subscribers waiting for a catch-up read`);
  expect(hub.catchUpLoad.running).toBe(READERS);

  // A waiting subscriber that leaves gives up its place in the queue.
  const waiting = readers.filter((r) => !r.subscribed);
  const leaver = waiting.at(-1)!;
  leaver.ws.terminate();
  await waitFor(() => hub.catchUpLoad.waiting === SUBSCRIBERS - READERS - 1, "the leaver to leave the queue");
  expect(hub.catchUpLoad.running).toBe(READERS);

  const staying = readers.filter((r) => r !== leaver);
  for (const r of staying) r.ws.resume();
  await waitFor(() => staying.every((r) => r.got.length >= N), `every subscriber to get all ${N} events`, 120_000);
  for (const r of staying) {
    expect(r.closed).toBe(false);
    expect(r.subscribed).toBe(true);
    expect(r.got).toEqual(Array.from({ length: N }, (_, i) => i));
  }
  await waitFor(() => hub.catchUpLoad.running === 0 && hub.catchUpLoad.waiting === 0, "every catch-up read to finish");
  for (const r of staying) r.ws.close();
}, 180_000);
