import { describe, expect, it } from "vitest";
import { hopping } from "../../../src/engine/windows/index.js";
import { late, res, windowDriver } from "./helpers.js";

describe("hopping windows", () => {
  it("a record counts in every overlapping window; windows fire in end order", () => {
    const d = windowDriver({ window: hopping(10, 5) });
    d.pipeInput("a", 1, 7); // [0,10) [5,15)
    d.pipeInput("a", 2, 12); // [5,15) [10,20); watermark 12
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1)]);
    d.advanceWatermark(20);
    expect(d.readOutput()).toEqual([res("final", "a", 5, 15, 2, 3), res("final", "a", 10, 20, 1, 2)]);
    expect(d.store("windows").size).toBe(0);
  });

  it("a record whose windows are partly expired updates the open ones and is not late", () => {
    const d = windowDriver({ window: hopping(10, 5) });
    d.pipeInput("a", 1, 7).pipeInput("a", 2, 12);
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1)]);
    d.pipeInput("a", 4, 8); // [0,10) expired, [5,15) open
    expect(d.readOutput()).toEqual([]);
    expect(d.operator.lateCount).toBe(0);
    d.pipeInput("a", 5, 3); // [-5,5) and [0,10): both expired
    expect(d.readOutput()).toEqual([late("a", 5, 3, 12)]);
    expect(d.operator.lateCount).toBe(1);
    d.advanceWatermark(20);
    expect(d.readOutput()).toEqual([res("final", "a", 5, 15, 3, 7), res("final", "a", 10, 20, 1, 2)]);
  });

  it("lateness updates of several windows come out in end order", () => {
    const d = windowDriver({ window: hopping(10, 5), allowedLatenessMs: 10 });
    d.pipeInput("a", 1, 7).advanceWatermark(15);
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1), res("final", "a", 5, 15, 1, 1)]);
    d.pipeInput("a", 2, 9); // updates [0,10) and [5,15)
    expect(d.readOutput()).toEqual([res("update", "a", 0, 10, 2, 3), res("update", "a", 5, 15, 2, 3)]);
  });
});
