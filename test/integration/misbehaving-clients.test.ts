/**
 * Clients that break the protocol are disconnected with a clear close code, and nothing they do
 * reaches the well-behaved client streaming beside them or grows the gateway's memory.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import WebSocket from "ws";
import { IngestClient, ResultCode } from "../../src/client/index.js";
import { ClientFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import type { Gateway } from "../../gateway/gateway.js";
import { countById, eventTopics, gatewayFor, readTopics, streamAll } from "./support.js";

const tenant = `misbehaving-${Date.now()}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const maxFrameBytes = 64 * 1024;
let gateway: Gateway;

beforeAll(async () => {
  // The flood below opens 200 connections at once: room for all their handshakes, so each gets its
  // protocol close code (past WEIR_MAX_PREAUTH_CONNECTIONS they would be turned away with 503).
  gateway = await gatewayFor(services, {
    apiKeys: [`${tenant}:k`],
    connectionCredit: 100,
    maxBatchEvents: 100,
    maxFrameBytes,
    maxEventBytes: 16 * 1024,
    maxPreauthConnections: 1000,
  });
});
afterAll(async () => {
  await gateway?.close();
});

/** Opens a raw socket, runs `act` once open, resolves with the close code the gateway chose. */
function closeCodeAfter(act: (ws: WebSocket) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(gateway.url);
    ws.on("open", () => act(ws));
    ws.on("close", (code) => resolve(code));
    ws.on("error", () => {});
    setTimeout(() => reject(new Error("the gateway did not close the connection")), 30_000).unref();
  });
}

const frame = (init: Parameters<typeof create<typeof ClientFrameSchema>>[1]) => toBinary(ClientFrameSchema, create(ClientFrameSchema, init));
const hello = frame({ frame: { case: "hello", value: { protocolVersion: 1, tenant, apiKey: "k" } } });
const events = (n: number, prefix: string) => {
  const rng = createRng(3);
  return Array.from({ length: n }, (_, i) => ({ ...accessLogEvent(rng, i, { baseTimeMs: Date.now() - 60_000 }), id: `${prefix}-${i}` }));
};

test("protocol violations close only the offending connection, with their codes", async () => {
  const good = events(4000, `${tenant}-good`);
  const goodStream = streamAll(gateway.url, { tenant, apiKey: "k" }, good, { connections: 2, batch: 50 });
  const rssBefore = process.memoryUsage().rss;

  const codes = await Promise.all([
    // Garbage bytes, a text frame, a frame over maxFrameBytes, a publish before Hello, a bad key.
    closeCodeAfter((ws) => ws.send(Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37]))),
    closeCodeAfter((ws) => ws.send("hello?")),
    closeCodeAfter((ws) => ws.send(Buffer.alloc(maxFrameBytes + 1024, 1))),
    closeCodeAfter((ws) => ws.send(frame({ frame: { case: "publish", value: { seq: 1n, events: events(1, "early") } } }))),
    closeCodeAfter((ws) => ws.send(frame({ frame: { case: "hello", value: { protocolVersion: 1, tenant, apiKey: "wrong" } } }))),
    // A client that ignores credit: five full batches back to back on a credit of 100.
    closeCodeAfter((ws) => {
      ws.send(hello);
      ws.once("message", () => {
        for (let b = 0; b < 5; b++) ws.send(frame({ frame: { case: "publish", value: { seq: BigInt(b), events: events(100, `greedy-${b}`) } } }));
      });
    }),
  ]);
  expect(codes).toEqual([4400, 4400, 1009, 4403, 4401, 4429]);

  // A flood of garbage connections: each is closed, memory stays bounded.
  const flood = await Promise.all(
    Array.from({ length: 200 }, (_, i) => closeCodeAfter((ws) => ws.send(i % 2 ? Buffer.alloc(maxFrameBytes * 2) : Buffer.from("\x08\x96\x01garbage")))),
  );
  expect(new Set(flood)).toEqual(new Set([1009, 4400]));
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);

  // The well-behaved client never noticed.
  const results = await goodStream;
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  const records = await readTopics(services.kafkaBrokers, eventTopics(), tenant);
  // The greedy client's first batch was within its credit and is published; the batches past
  // its credit were refused with the connection, before any of their events was taken.
  const greedy = records.filter((r) => r.headers["weir.id"]!.startsWith("greedy-"));
  expect(greedy.every((r) => r.headers["weir.id"]!.startsWith("greedy-0-"))).toBe(true);
  const counts = countById(records.filter((r) => !r.headers["weir.id"]!.startsWith("greedy-")));
  expect(new Set(counts.keys())).toEqual(new Set(good.map((e) => e.id)));
  expect([...counts.values()].every((c) => c === 1)).toBe(true);
  expect(gateway.admission.inFlightEvents).toBe(0);
  expect((await fetch(`http://127.0.0.1:${gateway.port}/healthz`)).status).toBe(200);
});

test("a client that connects and never says Hello is closed with 4408", async () => {
  const quick = await gatewayFor(services, { apiKeys: [`${tenant}:k`], helloTimeoutMs: 200 });
  try {
    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(quick.url);
      ws.on("close", (c) => resolve(c));
      ws.on("error", () => {});
    });
    expect(code).toBe(4408);
  } finally {
    await quick.close();
  }
});

test("the client surfaces the gateway's ProtocolError when it is refused", async () => {
  await expect(IngestClient.connect({ url: gateway.url, tenant, apiKey: "nope" })).rejects.toMatchObject({
    info: { code: 4401, error: { errorCode: "WEIR_ERR_UNAUTHORIZED" } },
  });
});
