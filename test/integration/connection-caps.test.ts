/**
 * Connection caps through the real uWS server: a tenant's third ingest connection and second
 * subscriber are closed after their Hello with 1013 WEIR_ERR_TOO_MANY_CONNECTIONS (a place frees
 * when one closes); a third socket from one address that has not sent its Hello is turned away
 * before the upgrade with HTTP 429; every refusal is counted in /metrics.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import WebSocket from "ws";
import { create, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { ConnectionClosedError, IngestClient, ResultCode, WeirClient, type ConnectionEvent } from "../../src/client/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor, waitFor } from "./support.js";
import { parsePrometheusText, sampleValue } from "./prometheus-text.js";

const tenant = `caps-${Date.now().toString(36)}`;
const auth = { tenant, apiKey: "key" };
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let gateway: Gateway;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:key`], maxConnectionsPerTenant: 2, maxSubscriptionsPerTenant: 1, maxPreauthPerIp: 2 });
});
afterAll(async () => {
  await gateway?.close();
});

const frame = (f: Parameters<typeof create<typeof ClientFrameSchema>>[1]) => toBinary(ClientFrameSchema, create(ClientFrameSchema, f));

/** A raw subscriber: resolves with its close code, or "open" once it is subscribed and still open after `settleMs`. */
function subscriberOutcome(): Promise<{ code: number | "subscribed"; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(gateway.url.replace("/v1/ingest", "/v1/subscribe"));
    ws.on("open", () => {
      ws.send(frame({ frame: { case: "hello", value: { protocolVersion: 1, ...auth } } }));
      ws.send(frame({ frame: { case: "subscribe", value: { stream: "events.weir.events.v1.HttpAccessLog" } } }));
    });
    ws.on("message", (data: Buffer) => {
      // Subscribed carries the stream name; a ProtocolError is followed by the close.
      if (data.includes("events.weir.events.v1.HttpAccessLog")) resolve({ code: "subscribed", ws });
    });
    ws.on("close", (code) => resolve({ code, ws }));
    ws.on("error", () => {});
  });
}

test("a tenant at its connection caps is closed after its Hello with 1013; a place frees when one of its connections closes", async () => {
  const first = await IngestClient.connect({ url: gateway.url, ...auth });
  const second = await IngestClient.connect({ url: gateway.url, ...auth });
  const third = await IngestClient.connect({ url: gateway.url, ...auth }).catch((err: unknown) => err);
  expect(third).toBeInstanceOf(ConnectionClosedError);
  expect((third as ConnectionClosedError).info).toMatchObject({ code: 1013, error: { errorCode: "WEIR_ERR_TOO_MANY_CONNECTIONS" } });
  await first.close();
  await waitFor(() => gateway.server.connections.size === 1, "the server to see the first connection closed");
  const again = await IngestClient.connect({ url: gateway.url, ...auth });
  await again.close();
  await second.close();

  const sub = await subscriberOutcome();
  expect(sub.code).toBe("subscribed");
  expect((await subscriberOutcome()).code).toBe(1013);
  sub.ws.close();
});

test("a WeirClient turned away with 1013 keeps trying and gets in once a place frees; its events are not lost", async () => {
  const holders = [await IngestClient.connect({ url: gateway.url, ...auth }), await IngestClient.connect({ url: gateway.url, ...auth })];
  const events: ConnectionEvent[] = [];
  const client = await WeirClient.open({ urls: gateway.url, ...auth, onConnection: (e) => void events.push(e), backoff: { initialMs: 50, maxMs: 200 } });
  const receipt = await client.send(accessLogEvent(createRng(2), 0, { baseTimeMs: Date.now() }));
  await waitFor(() => events.filter((e) => e.kind !== "connected").length >= 2, "the client to be turned away twice");
  expect(events.some((e) => e.kind === "connected")).toBe(false);
  await holders[0]!.close();
  const result = await receipt.acked;
  expect(result.code).toBe(ResultCode.ACK);
  expect(events.some((e) => e.kind === "connected")).toBe(true);
  await client.close();
  await holders[1]!.close();
});

test("sockets from one address that have not sent their Hello are capped before the upgrade (HTTP 429); every refusal is counted", async () => {
  const silent = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(gateway.url);
          ws.on("open", () => resolve(ws));
          ws.on("error", reject);
        }),
    ),
  );
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(gateway.url);
    ws.on("unexpected-response", (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.on("open", () => resolve(101));
    ws.on("error", () => {});
  });
  expect(status).toBe(429);
  for (const ws of silent) ws.close();

  const samples = parsePrometheusText(await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text());
  // The first test's ingest connection and subscriber, the WeirClient's tries, and this upgrade.
  expect(sampleValue(samples, "weir_security_refusals_total", { code: "WEIR_ERR_TOO_MANY_CONNECTIONS" })).toBeGreaterThanOrEqual(5);
});
