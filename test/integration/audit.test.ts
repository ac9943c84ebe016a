/**
 * The security audit trail and failed-auth throttling against the real gateway: of 300 wrong-key
 * guesses from one address, the first WEIR_AUTH_MAX_FAILURES are refused after their Hello (4401),
 * the rest before the upgrade (HTTP 429 with Retry-After); each is counted in /metrics by code but
 * logged once per code (with the peer address). Another address's client is not affected.
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
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:right`], logger, authMaxFailures: 20 });
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

test("guesses past the limit are turned away before the upgrade; every refusal is counted, one line per code logged with the peer", async () => {
  const GUESSES = 300;
  const codes: number[] = [];
  for (let i = 0; i < GUESSES; i++) codes.push(await closeCodeOf((ws) => ws.send(hello(`guess-${i}`))));
  // 1006: the upgrade was answered 429, no WebSocket.
  expect(codes.slice(0, 20)).toEqual(Array.from({ length: 20 }, () => 4401));
  expect(new Set(codes.slice(20))).toEqual(new Set([1006]));
  const refused = await new Promise<{ status: number; retryAfter: number }>((resolve) => {
    const ws = new WebSocket(gateway.url);
    ws.on("unexpected-response", (req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers["retry-after"]) });
      req.destroy();
    });
    ws.on("error", () => {});
  });
  expect(refused.status).toBe(429);
  expect(refused.retryAfter).toBeGreaterThan(0);

  const samples = parsePrometheusText(await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text());
  expect(sampleValue(samples, "weir_security_refusals_total", { code: "WEIR_ERR_UNAUTHORIZED" })).toBe(20);
  expect(sampleValue(samples, "weir_security_refusals_total", { code: "WEIR_ERR_AUTH_THROTTLED" })).toBe(GUESSES - 20 + 1);
  const logged = lines.filter((l) => l.security?.code === "WEIR_ERR_UNAUTHORIZED");
  expect(logged).toHaveLength(1);
  expect(logged[0]!.security).toMatchObject({ peer: "127.0.0.1", tenant: "" });
  expect(logged[0]!.level).toBe(40);
  expect(lines.filter((l) => l.security?.code === "WEIR_ERR_AUTH_THROTTLED")).toHaveLength(1);
});
