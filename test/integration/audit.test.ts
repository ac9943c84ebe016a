/**
 * The security audit trail against the real gateway: 300 wrong-key guesses are each counted in
 * /metrics by code, but logged once (with the peer address) and the rest summed into the next line;
 * a bad frame is counted under its own code.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import pino from "pino";
import WebSocket from "ws";
import { create, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor } from "./support.js";
import { parsePrometheusText, sampleValue } from "./prometheus-text.js";

const tenant = `audit-${Date.now()}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const lines: Array<{ level: number; msg: string; security?: { code: string; peer: string; tenant: string } }> = [];
let gateway: Gateway;

beforeAll(async () => {
  const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:right`], logger });
});
afterAll(async () => {
  await gateway?.close();
});

function closeCodeOf(send: (ws: WebSocket) => void): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(gateway.url);
    ws.on("open", () => send(ws));
    ws.on("close", (code) => resolve(code));
    ws.on("error", () => {});
  });
}

const hello = (apiKey: string) =>
  toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: { case: "hello", value: { protocolVersion: 1, tenant, apiKey } } }));

test("every refused guess is counted, one line per code is logged with the peer address", async () => {
  const GUESSES = 300;
  for (let i = 0; i < GUESSES; i += 50) {
    const codes = await Promise.all(Array.from({ length: 50 }, (_, j) => closeCodeOf((ws) => ws.send(hello(`guess-${i + j}`)))));
    expect(new Set(codes)).toEqual(new Set([4401]));
  }
  expect(await closeCodeOf((ws) => ws.send(Buffer.from([0xff, 0x00])))).toBe(4400);

  const samples = parsePrometheusText(await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text());
  expect(sampleValue(samples, "weir_security_refusals_total", { code: "WEIR_ERR_UNAUTHORIZED" })).toBe(GUESSES);
  expect(sampleValue(samples, "weir_security_refusals_total", { code: "WEIR_ERR_BAD_FRAME" })).toBe(1);
  const logged = lines.filter((l) => l.security?.code === "WEIR_ERR_UNAUTHORIZED");
  expect(logged).toHaveLength(1);
  expect(logged[0]!.security).toMatchObject({ peer: "127.0.0.1", tenant: "" });
  expect(logged[0]!.level).toBe(40);
});
