/**
 * Scenario 1: 5xx responses per host per minute, over weir.events.v1.HttpAccessLog records keyed
 * by host with the event time as timestamp. Each 1-minute tumbling window per host yields
 * `{ errors, requests }` (5xx responses, all responses), emitted final-on-watermark, with bounded
 * out-of-orderness and allowed lateness (late corrections arrive as `update`s).
 *
 * The engine takes a plain `{ host, status }` line, not the protobuf message: map decoded
 * messages with `accessLogLine` / `accessLogRecord`.
 */
import type { HttpAccessLog } from "../../gen/weir/events/v1/access_log_pb.js";
import type { EngineRecord } from "../types.js";
import { tumbling } from "../windows/assigners.js";
import type { AggregateFunctions } from "../windows/aggregate.js";
import type { EmitMode } from "../windows/options.js";
import { WindowedAggregate, type WindowedAggregateStores } from "../windows/windowed-aggregate.js";

/** The fields of an access log line the job needs. */
export type AccessLogLine = {
  readonly host: string;
  readonly status: number;
};

export type ErrorRateCounts = {
  /** Responses with a 5xx status. */
  readonly errors: number;
  /** All responses. */
  readonly requests: number;
};

export type ErrorRateOptions = {
  readonly windowMs: number;
  readonly maxOutOfOrdernessMs: number;
  readonly allowedLatenessMs: number;
  readonly emit: EmitMode;
};

export const errorRateDefaults: Readonly<ErrorRateOptions> = Object.freeze({
  windowMs: 60_000,
  maxOutOfOrdernessMs: 5_000,
  allowedLatenessMs: 60_000,
  emit: "final",
});

export type ErrorRateJob = WindowedAggregate<AccessLogLine, ErrorRateCounts, ErrorRateCounts>;

export function isServerError(status: number): boolean {
  return status >= 500 && status <= 599;
}

/** The line of a decoded HttpAccessLog (or anything with host and status). */
export function accessLogLine(log: Pick<HttpAccessLog, "host" | "status">): AccessLogLine {
  return { host: log.host, status: log.status };
}

/** An engine record keyed by host, at the event's time (the envelope's event time). */
export function accessLogRecord(log: Pick<HttpAccessLog, "host" | "status">, timestampMs: number): EngineRecord<AccessLogLine> {
  return { key: log.host, value: accessLogLine(log), timestampMs };
}

export const errorRateAggregate: AggregateFunctions<AccessLogLine, ErrorRateCounts, ErrorRateCounts> = Object.freeze({
  init: () => ({ errors: 0, requests: 0 }),
  add: (acc: ErrorRateCounts, line: AccessLogLine) => ({
    errors: acc.errors + (isServerError(line.status) ? 1 : 0),
    requests: acc.requests + 1,
  }),
  merge: (a: ErrorRateCounts, b: ErrorRateCounts) => ({ errors: a.errors + b.errors, requests: a.requests + b.requests }),
  result: (acc: ErrorRateCounts) => acc,
});

export function errorRateJob(stores: WindowedAggregateStores<ErrorRateCounts>, options: Partial<ErrorRateOptions> = {}): ErrorRateJob {
  const { windowMs, maxOutOfOrdernessMs, allowedLatenessMs, emit } = { ...errorRateDefaults, ...options };
  return new WindowedAggregate({ window: tumbling(windowMs), aggregate: errorRateAggregate, maxOutOfOrdernessMs, allowedLatenessMs, emit }, stores);
}
