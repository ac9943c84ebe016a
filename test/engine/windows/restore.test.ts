import { describe, expect, it } from "vitest";
import type { EngineTestDriver } from "../../../src/engine/testing/index.js";
import { hopping, session, tumbling, type WindowedAggregate } from "../../../src/engine/windows/index.js";
import { windowDriver, type Options, type SumCount } from "./helpers.js";

type Step = readonly ["record", string, number, number] | readonly ["watermark", number];
type Driver = EngineTestDriver<WindowedAggregate<number, SumCount, SumCount>>;

/** Out-of-order records over two keys, lateness updates, a too-late record, a session bridge, explicit watermarks. */
const steps: Step[] = [
  ["record", "a", 1, 1],
  ["record", "b", 2, 3],
  ["record", "a", 3, 14],
  ["record", "a", 4, 6], // behind the max, within the bound
  ["record", "b", 5, 22],
  ["record", "a", 6, 9], // a lateness update for [0,10)
  ["watermark", 25],
  ["record", "b", 7, 12],
  ["record", "a", 8, 2], // too late for the fixed windows
  ["record", "a", 9, 31],
  ["record", "b", 10, 44],
  ["record", "b", 11, 37],
  ["watermark", 50],
  ["record", "a", 12, 61],
  ["watermark", 200],
];

function apply(d: Driver, from: number, to: number): void {
  for (const step of steps.slice(from, to)) {
    if (step[0] === "record") d.pipeInput(step[1], step[2], step[3]);
    else d.advanceWatermark(step[1]);
  }
}

const configs: Array<[string, Options]> = [
  ["tumbling, final", { window: tumbling(10), maxOutOfOrdernessMs: 8, allowedLatenessMs: 5 }],
  ["tumbling, early", { window: tumbling(10), maxOutOfOrdernessMs: 8, allowedLatenessMs: 5, emit: "early" }],
  ["hopping", { window: hopping(20, 10), maxOutOfOrdernessMs: 8, allowedLatenessMs: 5 }],
  ["session", { window: session(8), maxOutOfOrdernessMs: 8, allowedLatenessMs: 5, emit: "early" }],
];

describe.each(configs)("restore (%s)", (_name, options) => {
  const uninterrupted = windowDriver(options);
  apply(uninterrupted, 0, steps.length);
  const expected = uninterrupted.readAll();

  it("the uninterrupted run emits results, late records and ends with empty window state", () => {
    expect(expected.some((r) => r.stream === "results")).toBe(true);
    expect(uninterrupted.store("windows").size).toBe(0);
    expect(uninterrupted.operator.lateCount).toBeGreaterThan(0);
  });

  it.each(steps.map((_, i) => i))("restarting after step %i (from the changelog) continues identically", (cut) => {
    const before = windowDriver(options);
    apply(before, 0, cut);
    expect(before.changelogSnapshot()).toEqual(before.snapshot());
    const after = before.restore();
    expect(after.snapshot()).toEqual(before.snapshot());
    apply(after, cut, steps.length);
    expect([...before.readAll(), ...after.readAll()]).toEqual(expected);
    expect(after.operator.stats()).toEqual(uninterrupted.operator.stats());
    expect(after.snapshot()).toEqual(uninterrupted.snapshot());
  });

  it("restoring from a store snapshot mid-run is the same; starting with empty state is not", () => {
    const cut = 8;
    const before = windowDriver(options);
    apply(before, 0, cut);
    const restored = before.restore(before.snapshot());
    apply(restored, cut, steps.length);
    expect([...before.readAll(), ...restored.readAll()]).toEqual(expected);

    const fresh = windowDriver(options);
    apply(fresh, cut, steps.length);
    expect([...before.readAll(), ...fresh.readAll()]).not.toEqual(expected);
  });
});
