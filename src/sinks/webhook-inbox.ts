/**
 * A minimal webhook endpoint for the demo and the tests: records every POST by its
 * Idempotency-Key, on a free loopback port. A receiver that honours the key acts on the first
 * request of each key only.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export type WebhookRequest = { headers: IncomingHttpHeaders; body: unknown };

export type WebhookInbox = {
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: WebhookRequest[];
  /** Requests by idempotency key: a receiver that honours the key acts on the first only. */
  readonly byKey: Map<string, WebhookRequest[]>;
  close(): Promise<void>;
};

export async function startWebhookInbox(opts: { onFirst?: (request: WebhookRequest) => void } = {}): Promise<WebhookInbox> {
  const requests: WebhookRequest[] = [];
  const byKey = new Map<string, WebhookRequest[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const request = { headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown };
      requests.push(request);
      const key = String(req.headers["idempotency-key"] ?? "");
      const earlier = byKey.get(key) ?? [];
      byKey.set(key, [...earlier, request]);
      if (earlier.length === 0) opts.onFirst?.(request);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/weir`,
    requests,
    byKey,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
