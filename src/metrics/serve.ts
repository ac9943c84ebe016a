/**
 * GET /metrics, /healthz and /readyz over plain node:http, for processes without the gateway's
 * uWS server (`weir processor`). /healthz is liveness (503: restart this process), /readyz
 * readiness (503: its dependencies or its own progress are not there yet).
 */
import { createServer } from "node:http";
import { bearerMatcher } from "../security/ops-token.js";
import type { AddressInfo } from "node:net";
import type { WeirMetrics } from "./prometheus.js";

export type ProcessHealth = () => { live: boolean; ready: boolean } & Record<string, unknown>;

export async function serveMetrics(
  metrics: WeirMetrics,
  host: string,
  port: number,
  health: ProcessHealth = () => ({ live: true, ready: true }),
  /** When set, /metrics needs it as a bearer token (WEIR_METRICS_TOKEN); the health pages stay open. */
  metricsToken = "",
): Promise<{ port: number; close(): Promise<void> }> {
  const authorized = metricsToken ? bearerMatcher(metricsToken) : () => true;
  const server = createServer((req, res) => {
    if (req.method !== "GET") return void res.writeHead(405).end("method not allowed");
    if (req.url === "/healthz" || req.url === "/readyz") {
      const h = health();
      const ok = req.url === "/healthz" ? h.live : h.ready;
      return void res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(h));
    }
    if (req.url !== "/metrics") return void res.writeHead(404).end("not found");
    if (!authorized(req.headers.authorization ?? ""))
      return void res.writeHead(401, { "www-authenticate": 'Bearer realm="weir"' }).end("metrics needs a bearer token");
    metrics.text().then(
      (body) => res.writeHead(200, { "content-type": metrics.contentType }).end(body),
      () => res.writeHead(500).end("metrics failed"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
