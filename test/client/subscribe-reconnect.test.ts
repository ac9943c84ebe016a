/**
 * subscribe() against stand-ins of the /v1/subscribe protocol: a list of gateways (an unreachable
 * one is skipped), a gateway that fails every subscription right after Subscribed (1011: it
 * reconnects with a growing backoff, not ~20 times a second forever), a bad URL (ends the iteration).
 */
import { afterEach, expect, test } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WebSocketServer } from "ws";
import { ClientFrameSchema, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { subscribe } from "../../src/client/index.js";

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

test("a subscription that fails right after Subscribed is retried with backoff", async () => {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  servers.push(server);
  await new Promise((r) => server.once("listening", r));
  let subscribes = 0;
  server.on("connection", (ws) =>
    ws.on("message", (data: Buffer) => {
      const frame = fromBinary(ClientFrameSchema, new Uint8Array(data)).frame;
      if (frame.case !== "subscribe") return;
      subscribes++;
      ws.send(toBinary(ServerFrameSchema, create(ServerFrameSchema, { frame: { case: "subscribed", value: { stream: frame.value.stream } } })));
      ws.close(1011, "reading the stream failed");
    }),
  );
  const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/v1/subscribe`;
  const sub = subscribe({ url, tenant: "t", apiKey: "k", stream: "alerts", maxReconnectDelayMs: 400 });
  const started = Date.now();
  while (Date.now() - started < 1000) await new Promise((r) => setTimeout(r, 20));
  sub.close();
  // Full jitter with caps 200, 400, 400 … ms: about 5 a second; with the delay stuck in [0, 100) ms it was 15–20.
  expect(subscribes).toBeGreaterThan(1);
  expect(subscribes).toBeLessThan(12);
});

test("an unreachable first gateway of the list is skipped; the subscription runs on the next", async () => {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  servers.push(server);
  await new Promise((r) => server.once("listening", r));
  server.on("connection", (ws) =>
    ws.on("message", (data: Buffer) => {
      const frame = fromBinary(ClientFrameSchema, new Uint8Array(data)).frame;
      if (frame.case !== "subscribe") return;
      ws.send(
        toBinary(ServerFrameSchema, create(ServerFrameSchema, { frame: { case: "subscribed", value: { stream: frame.value.stream, resumeToken: "t0" } } })),
      );
      const deliveries = [1, 2, 3].map((i) => ({
        key: `k${i}`,
        value: new TextEncoder().encode(JSON.stringify({ i })),
        contentType: "application/json",
        resumeToken: `t${i}`,
      }));
      ws.send(toBinary(ServerFrameSchema, create(ServerFrameSchema, { frame: { case: "deliveries", value: { deliveries } } })));
    }),
  );
  const gone = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => gone.once("listening", r));
  const goneUrl = `ws://127.0.0.1:${(gone.address() as { port: number }).port}/v1/subscribe`;
  await new Promise((r) => gone.close(r));
  const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/v1/subscribe`;
  const sub = subscribe({ url: [goneUrl, url], tenant: "t", apiKey: "k", stream: "alerts", reconnectDelayMs: () => 10 });
  const got: number[] = [];
  for await (const d of sub) {
    got.push(d.json<{ i: number }>().i);
    if (got.length === 3) break;
  }
  expect(got).toEqual([1, 2, 3]);
  expect(sub.resumeToken).toBe("t3");
  expect(sub.reconnects).toBeGreaterThanOrEqual(1);
});

test("a malformed gateway URL ends the iteration with the error", async () => {
  const sub = subscribe({ url: "not a url", tenant: "t", apiKey: "k", stream: "alerts" });
  await expect(sub[Symbol.asyncIterator]().next()).rejects.toThrow();
});
