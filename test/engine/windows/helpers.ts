/** Shared fixtures for the window tests: a sum/count aggregate, a driver factory and expected-record builders. */
import { EngineTestDriver, type OutputRecord } from "../../../src/engine/testing/index.js";
import {
  WindowedAggregate,
  windowedAggregateStores,
  type AggregateFunctions,
  type KeyWindows,
  type WindowBounds,
  type WindowResultKind,
  type WindowedAggregateInput,
  type WindowedOutput,
} from "../../../src/engine/windows/index.js";

export type SumCount = { count: number; sum: number };

export const sumCount: AggregateFunctions<number, SumCount, SumCount> = {
  init: () => ({ count: 0, sum: 0 }),
  add: (acc, value) => ({ count: acc.count + 1, sum: acc.sum + value }),
  merge: (a, b) => ({ count: a.count + b.count, sum: a.sum + b.sum }),
  result: (acc) => acc,
};

export type Options = Omit<WindowedAggregateInput<number, SumCount, SumCount>, "aggregate">;

export function windowDriver(options: Options): EngineTestDriver<WindowedAggregate<number, SumCount, SumCount>> {
  return new EngineTestDriver((stores) => new WindowedAggregate({ aggregate: sumCount, ...options }, windowedAggregateStores<SumCount>(stores)));
}

type Out = OutputRecord<WindowedOutput<number, SumCount>>;

/** An expected result record: window [startMs, endMs) of `key` with `count` values summing to `sum`. */
export function res(kind: WindowResultKind, key: string, startMs: number, endMs: number, count: number, sum: number, supersedes?: WindowBounds[]): Out {
  return {
    stream: "results",
    key,
    value: {
      kind,
      key,
      windowStartMs: startMs,
      windowEndMs: endMs,
      result: { count, sum },
      ...(supersedes ? { supersedes } : {}),
    },
    timestampMs: endMs - 1,
  };
}

/** An expected late-stream record. */
export function late(key: string, value: number, timestampMs: number, watermarkMs: number): Out {
  return { stream: "late", key, value: { kind: "late", key, value, timestampMs, watermarkMs }, timestampMs };
}

/** The driver's window store, typed. */
export function windowStore(d: EngineTestDriver<WindowedAggregate<number, SumCount, SumCount>>) {
  return d.store<KeyWindows<SumCount>>("windows");
}
