/**
 * The gateway's HTTP surface with WEIR_METRICS_TOKEN and WEIR_ALLOWED_ORIGINS set: /metrics only
 * for the bearer of the metrics token; /v1/stats for it or a tenant's own credentials; security
 * headers on every answer (pages, API, errors); WebSocket upgrades from a browser origin that is
 * neither the gateway's own nor allowed are refused with 403 and counted.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import WebSocket from "ws";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor } from "./support.js";
import { parsePrometheusText, sampleValue } from "./prometheus-text.js";

const tenant = `http-${Date.now().toString(36)}`;
const METRICS_TOKEN = "metrics-token-for-the-test";
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let gateway: Gateway;
let base: string;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:key`], metricsToken: METRICS_TOKEN, allowedOrigins: ["https://app.example.com"] });
  base = `http://127.0.0.1:${gateway.port}`;
});
afterAll(async () => {
  await gateway?.close();
});

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;
const status = async (path: string, authorization?: string) => (await fetch(`${base}${path}`, authorization ? { headers: { authorization } } : {})).status;

test("/metrics answers only the metrics token's bearer; /v1/stats also a tenant with its own key", async () => {
  expect(await status("/metrics")).toBe(401);
  expect(await status("/metrics", "Bearer wrong")).toBe(401);
  expect(await status("/metrics", basic(tenant, "key"))).toBe(401);
  expect(await status("/metrics", `Bearer ${METRICS_TOKEN}`)).toBe(200);
  expect(await status("/v1/stats")).toBe(401);
  expect(await status("/v1/stats", basic(tenant, "wrong"))).toBe(401);
  expect(await status("/v1/stats", basic(tenant, "key"))).toBe(200);
  expect(await status("/v1/stats", `Bearer ${METRICS_TOKEN}`)).toBe(200);
  const refused = await fetch(`${base}/metrics`);
  expect(refused.headers.get("www-authenticate")).toContain("Bearer");
  // The health pages stay open for orchestrators.
  expect(await status("/healthz")).toBe(200);
});

test("every answer carries the security headers; the dashboard's policy allows only its own scripts and sockets", async () => {
  for (const path of ["/dashboard", "/healthz", "/readyz", "/no-such-page", "/metrics"]) {
    const res = await fetch(`${base}${path}`);
    expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
    expect(res.headers.get("x-frame-options"), path).toBe("DENY");
    expect(res.headers.get("referrer-policy"), path).toBe("no-referrer");
    expect(res.headers.get("content-security-policy"), path).toContain("frame-ancestors 'none'");
  }
  const page = await fetch(`${base}/dashboard`);
  expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
  expect(page.headers.get("content-security-policy")).not.toContain("unsafe-inline");
  expect((await fetch(`${base}/readyz`)).headers.get("cache-control")).toBe("no-store");
});

/** The HTTP status of a WebSocket upgrade with `origin` (101 when it opened). */
function upgradeStatus(origin: string | undefined): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(gateway.url, origin ? { origin } : {});
    ws.on("open", () => {
      resolve(101);
      ws.close();
    });
    ws.on("unexpected-response", (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.on("error", () => {});
  });
}

test("a WebSocket from a browser origin neither the gateway's own nor allowed is refused with 403 and counted", async () => {
  expect(await upgradeStatus("https://evil.example.net")).toBe(403);
  expect(await upgradeStatus("null")).toBe(403);
  expect(await upgradeStatus("https://app.example.com")).toBe(101);
  expect(await upgradeStatus(`http://127.0.0.1:${gateway.port}`)).toBe(101);
  expect(await upgradeStatus(undefined)).toBe(101);
  const samples = parsePrometheusText(await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text());
  expect(sampleValue(samples, "weir_security_refusals_total", { code: "WEIR_ERR_FORBIDDEN_ORIGIN" })).toBe(2);
});
