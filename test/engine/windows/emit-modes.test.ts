import { describe, expect, it } from "vitest";
import { tumbling, type EmitMode } from "../../../src/engine/windows/index.js";
import { res, windowDriver } from "./helpers.js";

function run(emit: EmitMode) {
  const d = windowDriver({ window: tumbling(10), allowedLatenessMs: 10, emit });
  d.pipeInput("a", 1, 1).pipeInput("a", 2, 2).pipeInput("b", 5, 3);
  d.pipeInput("a", 1, 10); // watermark 10: [0,10) completes
  d.pipeInput("a", 3, 4); // lateness update
  d.advanceWatermark(20);
  return d.readOutput();
}

describe("emit modes", () => {
  it("final: one result per window when the watermark passes its end, plus lateness updates", () => {
    expect(run("final")).toEqual([
      res("final", "a", 0, 10, 2, 3),
      res("final", "b", 0, 10, 1, 5),
      res("update", "a", 0, 10, 3, 6),
      res("final", "a", 10, 20, 1, 1),
    ]);
  });

  it("early: also an early result on every change before the window completes", () => {
    expect(run("early")).toEqual([
      res("early", "a", 0, 10, 1, 1),
      res("early", "a", 0, 10, 2, 3),
      res("early", "b", 0, 10, 1, 5),
      res("early", "a", 10, 20, 1, 1), // the record's own change comes before the watermark it causes
      res("final", "a", 0, 10, 2, 3),
      res("final", "b", 0, 10, 1, 5),
      res("update", "a", 0, 10, 3, 6),
      res("final", "a", 10, 20, 1, 1),
    ]);
  });

  it("custom stream names", () => {
    const d = windowDriver({ window: tumbling(10), resultsStream: "counts", lateStream: "too-late" });
    d.pipeInput("a", 1, 15).pipeInput("a", 1, 1);
    expect(d.readOutput().map((r) => r.stream)).toEqual(["too-late"]);
    d.advanceWatermark(20);
    expect(d.readOutput().map((r) => [r.stream, r.timestampMs])).toEqual([["counts", 19]]);
  });
});
