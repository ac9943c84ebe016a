import { describe, expect, it } from "vitest";
import { resolveWindowedAggregateOptions, session, tumbling, windowedAggregateDefaults } from "../../../src/engine/windows/index.js";
import { sumCount } from "./helpers.js";

describe("WindowedAggregate options", () => {
  it("merges over frozen defaults", () => {
    expect(Object.isFrozen(windowedAggregateDefaults)).toBe(true);
    const resolved = resolveWindowedAggregateOptions({ window: tumbling(10), aggregate: sumCount, emit: "early" });
    expect(resolved).toEqual({
      window: tumbling(10),
      aggregate: sumCount,
      maxOutOfOrdernessMs: 0,
      allowedLatenessMs: 0,
      emit: "early",
      resultsStream: "results",
      lateStream: "late",
    });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it("rejects bad values", () => {
    const base = { window: tumbling(10), aggregate: sumCount };
    expect(() => resolveWindowedAggregateOptions({ ...base, maxOutOfOrdernessMs: -1 })).toThrow(RangeError);
    expect(() => resolveWindowedAggregateOptions({ ...base, allowedLatenessMs: Number.NaN })).toThrow(RangeError);
    expect(() => resolveWindowedAggregateOptions({ ...base, emit: "sometimes" as "early" })).toThrow(RangeError);
    expect(() => resolveWindowedAggregateOptions({ ...base, lateStream: "results" })).toThrow(RangeError);
    const noMerge = { ...sumCount };
    delete noMerge.merge;
    expect(() => resolveWindowedAggregateOptions({ window: session(5), aggregate: noMerge })).toThrow(/merge/);
    expect(() => resolveWindowedAggregateOptions({ window: tumbling(5), aggregate: noMerge })).not.toThrow();
  });
});
