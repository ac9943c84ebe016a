/**
 * Scenario 1, written on the public job API as a user would: 5xx responses per host per minute
 * from web access logs. Keyed by host whatever the producers keyed by (the runtime repartitions);
 * 1-minute tumbling windows in event time, a little disorder tolerated, late corrections within a
 * minute re-emitted as updates; partitions idle for 30 s close their last windows.
 *
 * Output "results": WindowResult `{ kind: "final" | "update", key: "<tenant>/<host>", windowStartMs,
 * windowEndMs, result: { errors, requests } }`; "late": the records too late for any window.
 */
import { HttpAccessLogSchema } from "weir/events";
import { defineJob, stream, tumbling, windowed, z } from "weir/jobs";

export type ErrorRateCounts = { readonly errors: number; readonly requests: number };

const isServerError = (status: number) => status >= 500 && status <= 599;

export default defineJob({
  name: "error-rate",
  version: 1,
  description: "5xx responses per host per minute",
  options: z.strictObject({
    windowMs: z.int().positive().default(60_000),
    maxOutOfOrdernessMs: z.int().min(0).default(5_000),
    allowedLatenessMs: z.int().min(0).default(60_000),
  }),
  inputs: { logs: stream(HttpAccessLogSchema, { key: (log) => log.host }) },
  idle: { afterMs: 30_000 },
  map: ({ value }) => ({ host: value.host, status: value.status }),
  step: ({ options }) =>
    windowed({
      window: tumbling(options.windowMs),
      aggregate: {
        init: (): ErrorRateCounts => ({ errors: 0, requests: 0 }),
        add: (acc: ErrorRateCounts, line: { status: number }) => ({ errors: acc.errors + (isServerError(line.status) ? 1 : 0), requests: acc.requests + 1 }),
        merge: (a: ErrorRateCounts, b: ErrorRateCounts) => ({ errors: a.errors + b.errors, requests: a.requests + b.requests }),
        result: (acc: ErrorRateCounts) => acc,
      },
      maxOutOfOrdernessMs: options.maxOutOfOrdernessMs,
      allowedLatenessMs: options.allowedLatenessMs,
    }),
});
