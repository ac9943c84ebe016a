import { describe, expect, it } from "vitest";
import { tumbling } from "../../../src/engine/windows/index.js";
import { late, res, windowDriver, windowStore } from "./helpers.js";

describe("tumbling windows", () => {
  it("fires each key's window once the watermark passes its end, ordered by end then key", () => {
    const d = windowDriver({ window: tumbling(10) });
    d.pipeInput("b", 10, 7).pipeInput("a", 1, 0).pipeInput("a", 2, 5);
    expect(d.readOutput()).toEqual([]);
    d.pipeInput("a", 3, 12); // watermark 12 >= 10
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 2, 3), res("final", "b", 0, 10, 1, 10)]);
    d.advanceWatermark(20);
    expect(d.readOutput()).toEqual([res("final", "a", 10, 20, 1, 3)]);
    expect(d.operator.stats()).toEqual({ watermarkMs: 20, maxEventTimeMs: 12, lateCount: 0 });
  });

  it("a window fires exactly when the watermark reaches its end, not before", () => {
    const d = windowDriver({ window: tumbling(10) });
    d.pipeInput("a", 1, 3).advanceWatermark(9);
    expect(d.readOutput()).toEqual([]);
    d.advanceWatermark(10);
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1)]);
  });

  it("one watermark jump fires several windows in end order, keys interleaved", () => {
    const d = windowDriver({ window: tumbling(10) });
    d.pipeRecords([
      { key: "c", value: 1, timestampMs: 15 },
      { key: "b", value: 2, timestampMs: 15 },
      { key: "c", value: 3, timestampMs: 16 },
    ]);
    d.advanceWatermark(14); // explicit watermark behind the records: nothing completes
    d.pipeInput("a", 4, 12); // behind the watermark, but its window [10,20) is still open: not late
    expect(d.readOutput()).toEqual([]);
    expect(d.operator.lateCount).toBe(0);
    d.advanceWatermark(100);
    expect(d.readOutput()).toEqual([res("final", "a", 10, 20, 1, 4), res("final", "b", 10, 20, 1, 2), res("final", "c", 10, 20, 2, 4)]);
  });

  it("out-of-order records within the bound land in their window", () => {
    const d = windowDriver({ window: tumbling(10), maxOutOfOrdernessMs: 5 });
    d.pipeInput("a", 1, 8).pipeInput("a", 2, 12); // watermark 7
    d.pipeInput("a", 4, 9); // 9 >= 7: on time
    expect(d.readOutput()).toEqual([]);
    d.pipeInput("a", 8, 16); // watermark 11
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 2, 5)]);
    d.advanceWatermark(20);
    expect(d.readOutput()).toEqual([res("final", "a", 10, 20, 2, 10)]);
    expect(d.operator.lateCount).toBe(0);
  });

  it("without the bound the same out-of-order record is late", () => {
    const d = windowDriver({ window: tumbling(10) });
    d.pipeInput("a", 1, 8).pipeInput("a", 2, 12).pipeInput("a", 4, 9);
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1), late("a", 4, 9, 12)]);
    expect(d.operator.lateCount).toBe(1);
  });

  it("watermarks never go back", () => {
    const d = windowDriver({ window: tumbling(10), maxOutOfOrdernessMs: 50 });
    d.advanceWatermark(100).advanceWatermark(50);
    expect(d.operator.watermarkMs).toBe(100);
    d.pipeInput("a", 1, 120); // 120 - 50 = 70 < 100: stays 100
    expect(d.operator.watermarkMs).toBe(100);
    d.pipeInput("a", 2, 60);
    expect(d.readOutput()).toEqual([late("a", 2, 60, 100)]);
    d.pipeInput("a", 3, 160); // 110
    expect(d.operator.watermarkMs).toBe(110);
  });

  it("allowed lateness: updates re-emitted as updates; past it, records go to the late stream and are counted", () => {
    const d = windowDriver({ window: tumbling(10), allowedLatenessMs: 10 });
    d.pipeInput("a", 1, 1).pipeInput("a", 2, 11);
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1)]);
    d.pipeInput("a", 5, 3); // watermark 11 < 10 + 10
    expect(d.readOutput()).toEqual([res("update", "a", 0, 10, 2, 6)]);
    d.pipeInput("a", 1, 19).pipeInput("a", 7, 4); // watermark 19 < 20
    expect(d.readOutput()).toEqual([res("update", "a", 0, 10, 3, 13)]);
    d.pipeInput("a", 1, 25); // watermark 25: [10,20) fires, [0,10) is purged
    expect(d.readOutput()).toEqual([res("final", "a", 10, 20, 2, 3)]);
    d.pipeInput("a", 9, 5); // 5 is in [0,10): 10 + 10 <= 25
    expect(d.readOutput("results")).toEqual([]);
    expect(d.readOutput("late")).toEqual([late("a", 9, 5, 25)]);
    expect(d.operator.lateCount).toBe(1);
    d.pipeInput("b", 2, 12); // another key's window [10,20): still within lateness, first result is final
    expect(d.readOutput()).toEqual([res("final", "b", 10, 20, 1, 2)]);
    d.pipeInput("a", 3, 15);
    expect(d.readOutput()).toEqual([res("update", "a", 10, 20, 3, 6)]);
  });

  it("purges window state once the watermark passes end + allowed lateness", () => {
    const d = windowDriver({ window: tumbling(10), allowedLatenessMs: 10 });
    const windows = () => windowStore(d);
    d.pipeInput("a", 1, 1).pipeInput("b", 1, 2).pipeInput("a", 1, 15);
    expect(windows().size).toBe(2);
    expect(windows().get("a")).toEqual({
      windows: [
        { startMs: 0, endMs: 10, acc: { count: 1, sum: 1 }, fired: true, pending: false, emitted: true },
        { startMs: 10, endMs: 20, acc: { count: 1, sum: 1 }, fired: false, pending: true, emitted: false },
      ],
    });
    d.advanceWatermark(19);
    expect(windows().size).toBe(2);
    d.advanceWatermark(20); // [0,10) expires; [10,20) fires
    expect([...windows().entries()].map(([k, v]) => [k, v.windows.map((w) => w.startMs)])).toEqual([["a", [10]]]);
    d.advanceWatermark(30);
    expect(windows().size).toBe(0);
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1), res("final", "b", 0, 10, 1, 1), res("final", "a", 10, 20, 1, 1)]);
    expect(d.store("progress").size).toBe(1);
  });

  it("with no allowed lateness, state is purged as windows fire", () => {
    const d = windowDriver({ window: tumbling(10) });
    d.pipeInput("a", 1, 1).pipeInput("b", 1, 5);
    expect(windowStore(d).size).toBe(2);
    d.pipeInput("c", 1, 10);
    expect([...windowStore(d).entries()].map(([k]) => k)).toEqual(["c"]);
    d.advanceWatermark(20);
    expect(windowStore(d).size).toBe(0);
  });

  it("an infinite watermark (end of input) fires and purges everything and survives a restore", () => {
    const d = windowDriver({ window: tumbling(10), allowedLatenessMs: 1_000 });
    d.pipeInput("a", 1, 5).advanceWatermark(Number.NEGATIVE_INFINITY);
    expect(d.operator.watermarkMs).toBe(5);
    d.advanceWatermark(Number.POSITIVE_INFINITY);
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1)]);
    expect(windowStore(d).size).toBe(0);
    const r = d.restore();
    expect(r.operator.watermarkMs).toBe(Number.MAX_SAFE_INTEGER);
    r.pipeInput("a", 2, 1e15);
    expect(r.readOutput("late")).toEqual([late("a", 2, 1e15, Number.MAX_SAFE_INTEGER)]);
  });

  it("rejects non-finite timestamps", () => {
    const d = windowDriver({ window: tumbling(10) });
    expect(() => d.pipeInput("a", 1, Number.NaN)).toThrow(RangeError);
  });
});
