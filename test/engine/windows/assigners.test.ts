import { describe, expect, it } from "vitest";
import { assignWindows, hopping, session, tumbling } from "../../../src/engine/windows/index.js";

describe("window assigners", () => {
  it("tumbling: the one aligned window containing the timestamp (end exclusive, negatives floor)", () => {
    expect(assignWindows(tumbling(10), 0)).toEqual([{ startMs: 0, endMs: 10 }]);
    expect(assignWindows(tumbling(10), 9)).toEqual([{ startMs: 0, endMs: 10 }]);
    expect(assignWindows(tumbling(10), 10)).toEqual([{ startMs: 10, endMs: 20 }]);
    expect(assignWindows(tumbling(10), -1)).toEqual([{ startMs: -10, endMs: 0 }]);
  });

  it("hopping: every window of size containing the timestamp, ascending", () => {
    expect(assignWindows(hopping(10, 5), 7)).toEqual([
      { startMs: 0, endMs: 10 },
      { startMs: 5, endMs: 15 },
    ]);
    expect(assignWindows(hopping(10, 5), 10)).toEqual([
      { startMs: 5, endMs: 15 },
      { startMs: 10, endMs: 20 },
    ]);
    expect(assignWindows(hopping(30, 10), 3)).toEqual([
      { startMs: -20, endMs: 10 },
      { startMs: -10, endMs: 20 },
      { startMs: 0, endMs: 30 },
    ]);
    expect(assignWindows(hopping(10, 10), 15)).toEqual(assignWindows(tumbling(10), 15));
  });

  it("session: the record's own proto-session [t, t + gap)", () => {
    expect(assignWindows(session(10), 42)).toEqual([{ startMs: 42, endMs: 52 }]);
  });

  it("rejects sizes that are not positive integers, and advance > size", () => {
    expect(() => tumbling(0)).toThrow(RangeError);
    expect(() => tumbling(1.5)).toThrow(RangeError);
    expect(() => hopping(10, 0)).toThrow(RangeError);
    expect(() => hopping(10, 20)).toThrow(/must not exceed/);
    expect(() => session(-1)).toThrow(RangeError);
  });

  it("assigners are frozen plain data", () => {
    expect(hopping(10, 5)).toEqual({ type: "hopping", sizeMs: 10, advanceMs: 5 });
    expect(Object.isFrozen(session(3))).toBe(true);
  });
});
