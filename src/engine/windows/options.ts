/**
 * WindowedAggregate options: required window assigner and aggregate functions, everything else
 * merged over frozen defaults and validated once at construction.
 */
import type { AggregateFunctions } from "./aggregate.js";
import type { WindowAssigner } from "./assigners.js";

/** `final`: emit when the watermark passes a window's end (plus lateness updates). `early`: also on every change. */
export type EmitMode = "final" | "early";

export type WindowedAggregateOptions<I, A, R> = {
  readonly window: WindowAssigner;
  readonly aggregate: AggregateFunctions<I, A, R>;
  /** The watermark trails the highest event time seen by this bound. */
  readonly maxOutOfOrdernessMs: number;
  /** How long after the watermark passes a window's end records still update it. */
  readonly allowedLatenessMs: number;
  readonly emit: EmitMode;
  /** Output stream names. */
  readonly resultsStream: string;
  readonly lateStream: string;
};

export type WindowedAggregateDefaults = Omit<WindowedAggregateOptions<never, never, never>, "window" | "aggregate">;

export const windowedAggregateDefaults: Readonly<WindowedAggregateDefaults> = Object.freeze({
  maxOutOfOrdernessMs: 0,
  allowedLatenessMs: 0,
  emit: "final",
  resultsStream: "results",
  lateStream: "late",
});

/** What callers pass: window and aggregate, plus any defaults to override. */
export type WindowedAggregateInput<I, A, R> = Pick<WindowedAggregateOptions<I, A, R>, "window" | "aggregate"> & Partial<WindowedAggregateDefaults>;

function nonNegativeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer number of ms, got ${value}`);
  }
}

export function resolveWindowedAggregateOptions<I, A, R>(input: WindowedAggregateInput<I, A, R>): Readonly<WindowedAggregateOptions<I, A, R>> {
  const options: WindowedAggregateOptions<I, A, R> = { ...windowedAggregateDefaults, ...input };
  nonNegativeInteger("maxOutOfOrdernessMs", options.maxOutOfOrdernessMs);
  nonNegativeInteger("allowedLatenessMs", options.allowedLatenessMs);
  if (options.emit !== "final" && options.emit !== "early") {
    throw new RangeError(`emit must be "final" or "early", got ${String(options.emit)}`);
  }
  if (options.window.type === "session" && typeof options.aggregate.merge !== "function") {
    throw new RangeError("session windows need an aggregate with merge()");
  }
  if (!options.resultsStream || !options.lateStream || options.resultsStream === options.lateStream) {
    throw new RangeError("resultsStream and lateStream must be two different non-empty names");
  }
  return Object.freeze(options);
}
