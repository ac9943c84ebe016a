import { describe, expect, it } from "vitest";
import { MemoryStore, type Emitter, type EngineRecord, type Operator, type StoreProvider } from "../../../src/engine/types.js";
import { EngineTestDriver } from "../../../src/engine/testing/index.js";
import { TableWatermark, type TableWatermarkState } from "../../../src/engine/tables/index.js";

const watermark = (options: ConstructorParameters<typeof TableWatermark>[2] = {}) => new TableWatermark(new MemoryStore<TableWatermarkState>(), "t", options);

describe("TableWatermark", () => {
  it("is the minimum over sources of (highest − maxOutOfOrderness)", () => {
    const wm = watermark({ maxOutOfOrdernessMs: 100 });
    expect(wm.watermarkMs).toBe(Number.NEGATIVE_INFINITY);
    wm.observe("quotes/0", 1000);
    expect(wm.watermarkMs).toBe(900);
    wm.observe("quotes/1", 700); // a slower source joins: the watermark waits for it (it does not go back)
    expect(wm.watermarkMs).toBe(900);
    wm.observe("quotes/1", 1500);
    expect(wm.watermarkMs).toBe(900); // quotes/0 is now the slowest
    wm.observe("quotes/0", 1300);
    expect(wm.watermarkMs).toBe(1200);
    expect(wm.sources()).toEqual({ "quotes/0": 1300, "quotes/1": 1500 });
  });

  it("counts records older than the watermark as late, and a record at the watermark as on time", () => {
    const wm = watermark({ maxOutOfOrdernessMs: 10 });
    expect(wm.observe("s", 100)).toBe(false); // watermark 90
    expect(wm.observe("s", 90)).toBe(false);
    expect(wm.observe("s", 89)).toBe(true);
    expect(wm.lateCount).toBe(1);
    expect(wm.watermarkMs).toBe(90);
  });

  it("waits for declared sources before moving at all", () => {
    const wm = watermark({ sources: ["quotes/0", "quotes/1"] });
    wm.observe("quotes/0", 1000);
    expect(wm.watermarkMs).toBe(Number.NEGATIVE_INFINITY);
    wm.observe("quotes/1", 400);
    expect(wm.watermarkMs).toBe(400);
  });

  it("can be advanced explicitly (an idle policy), never backwards, and keeps the end of input as JSON", () => {
    const wm = watermark();
    wm.observe("s", 100);
    wm.advanceTo(5000);
    expect(wm.watermarkMs).toBe(5000);
    wm.advanceTo(10);
    wm.observe("s", 200); // sources say 200: the explicit advance stands
    expect(wm.watermarkMs).toBe(5000);
    wm.advanceTo(Number.POSITIVE_INFINITY);
    expect(wm.watermarkMs).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => wm.advanceTo(Number.NaN)).toThrow(RangeError);
    expect(() => watermark({ maxOutOfOrdernessMs: -1 })).toThrow(RangeError);
  });
});

// An operator that tracks one TableWatermark over records whose value names their source, and
// reports the watermark and late flags.
class WatermarkOperator implements Operator<string, { late: boolean; watermarkMs: number }> {
  private readonly wm: TableWatermark;
  constructor(stores: StoreProvider) {
    this.wm = new TableWatermark(stores.store("progress"), "quotes", { maxOutOfOrdernessMs: 50, sources: ["p0", "p1"] });
  }
  process(r: EngineRecord<string>, out: Emitter<{ late: boolean; watermarkMs: number }>): void {
    const late = this.wm.observe(r.value, r.timestampMs);
    out.emit("wm", r.value, { late, watermarkMs: this.wm.watermarkMs }, r.timestampMs);
  }
  advanceWatermark(watermarkMs: number): void {
    this.wm.advanceTo(watermarkMs);
  }
}

describe("TableWatermark in an operator", () => {
  it("survives a restore from the changelog: sources, watermark and late count", () => {
    const steps: Array<["p0" | "p1", number] | ["advance", number]> = [
      ["p0", 1000],
      ["p1", 900],
      ["p0", 1200],
      ["advance", 1100],
      ["p1", 1000], // late: before 1100
      ["p1", 1400],
      ["p0", 1500],
    ];
    const run = (driver: EngineTestDriver<WatermarkOperator>, part: typeof steps) => {
      for (const [what, t] of part) {
        if (what === "advance") driver.advanceWatermark(t);
        else driver.pipeInput(what, what, t);
      }
      return driver;
    };
    const build = () => new EngineTestDriver((stores) => new WatermarkOperator(stores));
    const straight = run(build(), steps).readAll("wm");
    expect(straight.map((r) => r.value)).toEqual([
      { late: false, watermarkMs: Number.NEGATIVE_INFINITY },
      { late: false, watermarkMs: 850 },
      { late: false, watermarkMs: 850 },
      { late: true, watermarkMs: 1100 },
      { late: false, watermarkMs: 1150 },
      { late: false, watermarkMs: 1350 },
    ]);
    for (let split = 0; split <= steps.length; split++) {
      const first = run(build(), steps.slice(0, split));
      const second = run(first.restore(), steps.slice(split));
      expect([...first.readAll("wm"), ...second.readAll("wm")]).toEqual(straight);
    }
  });
});
