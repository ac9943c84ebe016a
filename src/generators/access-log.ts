/**
 * Web access log lines (scenario 1): a realistic status mix with a 5xx share that bursts,
 * and event times that arrive slightly out of order, as they do from many web servers.
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { HttpAccessLogSchema } from "../gen/weir/events/v1/access_log_pb.js";
import { envelopeOf } from "../client/envelope.js";
import type { Rng } from "./rng.js";

const hosts = ["web-1", "web-2", "web-3", "api-1", "api-2"];
const paths = ["/", "/login", "/cart", "/api/orders", "/api/search", "/static/app.js"];
const methods = ["GET", "GET", "GET", "POST", "PUT"];

export type AccessLogOptions = { baseTimeMs: number; errorRate?: number; maxDisorderMs?: number };

export function accessLogEvent(rng: Rng, i: number, opts: AccessLogOptions): Envelope {
  const errorRate = opts.errorRate ?? 0.05;
  const status = rng.chance(errorRate) ? rng.pick([500, 502, 503, 504]) : rng.pick([200, 200, 200, 201, 204, 301, 304, 404]);
  const host = rng.pick(hosts);
  return envelopeOf(
    HttpAccessLogSchema,
    {
      host,
      method: rng.pick(methods),
      path: rng.pick(paths),
      status,
      bytesSent: BigInt(rng.int(200, 50_000)),
      latencyMs: rng.int(1, status >= 500 ? 3000 : 300),
      clientIp: `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
      userAgent: "weir-demo/1.0",
    },
    { eventTimeMs: opts.baseTimeMs + i * 10 - rng.int(0, opts.maxDisorderMs ?? 2000), partitionKey: host },
  );
}
