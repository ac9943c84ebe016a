import { describe, expect, it } from "vitest";
import { session } from "../../../src/engine/windows/index.js";
import { late, res, windowDriver, windowStore } from "./helpers.js";

describe("session windows", () => {
  it("records less than the gap apart share a session; sessions fire when the watermark passes their end", () => {
    const d = windowDriver({ window: session(10) });
    d.pipeInput("a", 1, 0).pipeInput("a", 2, 5).pipeInput("b", 1, 3);
    expect(d.readOutput()).toEqual([]);
    d.pipeInput("a", 4, 30); // watermark 30: b [3,13) then a [0,15)
    expect(d.readOutput()).toEqual([res("final", "b", 3, 13, 1, 1), res("final", "a", 0, 15, 2, 3)]);
    d.pipeInput("a", 1, 40); // exactly the gap after 30: a new session
    expect(d.readOutput()).toEqual([res("final", "a", 30, 40, 1, 4)]);
    d.advanceWatermark(50);
    expect(d.readOutput()).toEqual([res("final", "a", 40, 50, 1, 1)]);
    expect(windowStore(d).size).toBe(0);
  });

  it("a bridging record merges two sessions into one and emits only the merged result", () => {
    const d = windowDriver({ window: session(10), maxOutOfOrdernessMs: 20 });
    d.pipeInput("a", 1, 0).pipeInput("a", 2, 18); // [0,10) and [18,28)
    expect(
      windowStore(d)
        .get("a")
        ?.windows.map((w) => [w.startMs, w.endMs]),
    ).toEqual([
      [0, 10],
      [18, 28],
    ]);
    d.pipeInput("a", 4, 9); // [9,19) overlaps both
    expect(
      windowStore(d)
        .get("a")
        ?.windows.map((w) => [w.startMs, w.endMs]),
    ).toEqual([[0, 28]]);
    d.advanceWatermark(28);
    expect(d.readOutput()).toEqual([res("final", "a", 0, 28, 3, 7)]);
  });

  it("early mode: the merged result names the early results it supersedes", () => {
    const d = windowDriver({ window: session(10), maxOutOfOrdernessMs: 20, emit: "early" });
    d.pipeInput("a", 1, 0).pipeInput("a", 2, 18).pipeInput("a", 4, 9);
    d.advanceWatermark(28);
    expect(d.readOutput()).toEqual([
      res("early", "a", 0, 10, 1, 1),
      res("early", "a", 18, 28, 1, 2),
      res("early", "a", 0, 28, 3, 7, [
        { startMs: 0, endMs: 10 },
        { startMs: 18, endMs: 28 },
      ]),
      res("final", "a", 0, 28, 3, 7),
    ]);
  });

  it("a late record merging into a fired session yields an update superseding the final", () => {
    const d = windowDriver({ window: session(10), allowedLatenessMs: 20 });
    d.pipeInput("a", 1, 0).pipeInput("b", 1, 20); // watermark 20
    expect(d.readOutput()).toEqual([res("final", "a", 0, 10, 1, 1)]);
    d.pipeInput("a", 2, 15); // new session [15,25), still open
    d.pipeInput("a", 4, 8); // [8,18) bridges the fired [0,10) and the open [15,25) → [0,25), open
    expect(d.readOutput()).toEqual([]);
    d.advanceWatermark(25);
    expect(d.readOutput()).toEqual([res("update", "a", 0, 25, 3, 7, [{ startMs: 0, endMs: 10 }])]);
    d.pipeInput("a", 8, 12); // [12,22) lies inside [0,25): a plain update, nothing new superseded
    expect(d.readOutput()).toEqual([res("update", "a", 0, 25, 4, 15)]);
    d.advanceWatermark(30);
    expect(d.readOutput()).toEqual([res("final", "b", 20, 30, 1, 1)]);
    d.pipeInput("a", 16, 24); // [24,34) extends the completed session: pending again, an update when complete
    expect(d.readOutput()).toEqual([]);
    d.advanceWatermark(34);
    expect(d.readOutput()).toEqual([res("update", "a", 0, 34, 5, 31, [{ startMs: 0, endMs: 25 }])]);
    d.advanceWatermark(54);
    expect(windowStore(d).size).toBe(0);
  });

  it("a record behind the watermark joins an open session; one fitting no open session is late", () => {
    const d = windowDriver({ window: session(10) });
    d.pipeInput("a", 1, 50);
    d.pipeInput("a", 2, 45); // [45,55) overlaps [50,60): joins, not late
    d.pipeInput("a", 4, 30); // [30,40): no open session, 40 <= 50
    expect(d.readOutput()).toEqual([late("a", 4, 30, 50)]);
    expect(d.operator.lateCount).toBe(1);
    d.advanceWatermark(60);
    expect(d.readOutput()).toEqual([res("final", "a", 45, 60, 2, 3)]);
  });
});
