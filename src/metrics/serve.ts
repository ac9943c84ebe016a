/** GET /metrics over plain node:http, for processes without the gateway's uWS server (`weir processor`). */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { WeirMetrics } from "./prometheus.js";

export async function serveMetrics(metrics: WeirMetrics, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") return void res.writeHead(404).end("not found");
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
