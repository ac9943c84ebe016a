/**
 * The gateway's lifecycle against the real Kafka and Redis: stopping ends every socket it owns,
 * subscribers included (they get WEIR_ERR_SHUTDOWN and close 1001 instead of a socket that never
 * closes), and a start that fails part-way closes what it had opened (the port is free again).
 */
import { afterEach, expect, inject, test } from "vitest";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import WebSocket from "ws";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "../../src/gen/weir/v1/protocol_pb.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { freePorts } from "../../src/stack/index.js";
import { WeirError } from "../../src/errors.js";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor, waitFor } from "./support.js";

const run = `life-${Date.now().toString(36)}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const tenant = `${run}-t`;
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

type Socket = {
  frames: Array<ServerFrame["frame"]>;
  closed: Promise<{ code: number; reason: string }>;
  send(frame: MessageInitShape<typeof ClientFrameSchema>["frame"]): void;
};

async function open(url: string): Promise<Socket> {
  const ws = new WebSocket(url);
  cleanup.push(() => ws.terminate());
  const frames: Array<ServerFrame["frame"]> = [];
  ws.on("message", (data: Buffer) => frames.push(fromBinary(ServerFrameSchema, new Uint8Array(data)).frame));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  return { frames, closed, send: (frame) => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame }))) };
}

const hello = { case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant, apiKey: "secret", clientId: "lifecycle" } } as const;

test("close() ends every socket: subscribers (streaming or not yet welcomed) and ingest clients get WEIR_ERR_SHUTDOWN, 1001", async () => {
  const gateway: Gateway = await gatewayFor(services, { apiKeys: [`${tenant}:secret`], drainTimeoutMs: 2000 });
  cleanup.push(() => gateway.close());
  const subscribeUrl = gateway.url.replace("/v1/ingest", "/v1/subscribe");

  const streaming = await open(subscribeUrl);
  streaming.send(hello);
  streaming.send({ case: "subscribe", value: { stream: "events.weir.events.v1.HttpAccessLog" } });
  await waitFor(() => streaming.frames.some((f) => f.case === "subscribed"), "the subscription");
  const silent = await open(subscribeUrl);
  const ingest = await open(gateway.url);
  ingest.send(hello);
  await waitFor(() => ingest.frames.some((f) => f.case === "welcome"), "the ingest Welcome");
  expect(gateway.state).toBe("ready");

  const closing = gateway.close();
  for (const socket of [streaming, silent, ingest]) {
    expect(await socket.closed).toEqual({ code: 1001, reason: "WEIR_ERR_SHUTDOWN" });
    expect(socket.frames.at(-1)).toMatchObject({ case: "error", value: { errorCode: "WEIR_ERR_SHUTDOWN", closeCode: 1001 } });
  }
  await closing;
  expect(gateway.state).toBe("stopped");
  expect(gateway.server.subscribers.size).toBe(0);
  expect(gateway.server.connections.size).toBe(0);
}, 120_000);

test("a start that fails part-way closes what it opened: the port is free again and the error is the step's", async () => {
  const [port] = await freePorts(1);
  // Unknown job names fail the last step (the processor jobs), after the server listens.
  const failed = await gatewayFor(services, { port: port!, processorInGateway: true, processorJobs: ["no-such-job"] }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failed).toBeInstanceOf(Error);
  expect(String((failed as Error).message)).toContain("no-such-job");
  const again = await gatewayFor(services, { port: port! });
  cleanup.push(() => again.close());
  expect(again.port).toBe(port);
}, 120_000);

test("a config error stops the start before anything opens", async () => {
  await expect(gatewayFor(services, { maxBatchEvents: 10, connectionCredit: 5 })).rejects.toSatisfy(
    (err) => err instanceof WeirError && err.code === "WEIR_ERR_CONFIG",
  );
});
