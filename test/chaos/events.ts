/** The chaos suite's events and the windows they make: pure functions of the event index. */
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";

export const CHAOS_HOSTS = 7;
const hostOf = (i: number) => `host-${i % CHAOS_HOSTS}`;
const statusOf = (i: number) => (i % 9 === 0 ? 503 : 200);
const timeOf = (i: number, rate: number, t0: number) => t0 + Math.floor((i * 1000) / rate);

export function chaosEvent(prefix: string, i: number, rate: number, t0: number): Envelope {
  return envelopeOf(
    HttpAccessLogSchema,
    { host: hostOf(i), method: "GET", path: "/", status: statusOf(i) },
    { id: `${prefix}-${i}`, eventTimeMs: timeOf(i, rate, t0), partitionKey: hostOf(i) },
  );
}

/** The error-rate job's windows over events 0..count-1: "host|minute start" → 5xx and request counts. */
export function expectedWindows(count: number, rate: number, t0: number): Map<string, { errors: number; requests: number }> {
  const out = new Map<string, { errors: number; requests: number }>();
  for (let i = 0; i < count; i++) {
    const k = `${hostOf(i)}|${Math.floor(timeOf(i, rate, t0) / 60_000) * 60_000}`;
    const c = out.get(k) ?? { errors: 0, requests: 0 };
    out.set(k, { errors: c.errors + (statusOf(i) >= 500 ? 1 : 0), requests: c.requests + 1 });
  }
  return out;
}
