import { describe, expect, it } from "vitest";
import { limitsFor, limitTransitions, measureLimits, validateLimits } from "../../../src/engine/risk/limits.js";

describe("limits", () => {
  it("merges per-account limits over the default", () => {
    const config = {
      default: { maxGrossExposure: 100, maxSectorNetExposure: 50, maxSectorNetExposureBySector: { TECH: 40 } },
      accounts: { B: { maxGrossExposure: 10, maxSectorNetExposureBySector: { BANKS: 5 } } },
    };
    expect(limitsFor(config, "A")).toEqual(config.default);
    expect(limitsFor(config, "B")).toEqual({
      maxGrossExposure: 10,
      maxSectorNetExposure: 50,
      maxSectorNetExposureBySector: { TECH: 40, BANKS: 5 },
    });
    expect(limitsFor(config, "__proto__")).toEqual(config.default);
    expect(() => validateLimits({ default: { maxVar: -1 } })).toThrow(RangeError);
  });

  it("measures every limit as value against threshold, with sector overrides", () => {
    const limits = { maxGrossExposure: 100, maxSectorNetExposure: 50, maxSectorNetExposureBySector: { TECH: 40 }, maxVar: 9, maxLoss: 20 };
    const inputs = {
      grossExposure: 120,
      sectors: [
        { sector: "TECH", net: -45 },
        { sector: "BANKS", net: 30 },
      ],
      var: null,
      totalPnl: -25,
    };
    expect(measureLimits(limits, inputs, ["maxSectorNetExposure/OIL"])).toEqual([
      { id: "maxGrossExposure", limit: "maxGrossExposure", value: 120, threshold: 100 },
      { id: "maxSectorNetExposure/BANKS", limit: "maxSectorNetExposure", sector: "BANKS", value: 30, threshold: 50 },
      { id: "maxSectorNetExposure/OIL", limit: "maxSectorNetExposure", sector: "OIL", value: 0, threshold: 50 },
      { id: "maxSectorNetExposure/TECH", limit: "maxSectorNetExposure", sector: "TECH", value: 45, threshold: 40 },
      { id: "maxLoss", limit: "maxLoss", value: 25, threshold: 20 },
    ]);
  });

  it("emits on crossing only (hysteresis by state)", () => {
    const m = (value: number) => [{ id: "maxVar", limit: "maxVar" as const, value, threshold: 10 }];
    let breached: string[] = [];
    const events: unknown[] = [];
    for (const [value, at] of [
      [5, 1],
      [11, 2],
      [12, 3],
      [10, 4],
      [9, 5],
      [10.5, 6],
    ] as const) {
      const r = limitTransitions("A", breached, m(value), at);
      breached = r.breached;
      events.push(...r.events);
    }
    expect(events).toEqual([
      { type: "breach", account: "A", limit: "maxVar", value: 11, threshold: 10, atMs: 2 },
      { type: "cleared", account: "A", limit: "maxVar", value: 10, threshold: 10, atMs: 4 },
      { type: "breach", account: "A", limit: "maxVar", value: 10.5, threshold: 10, atMs: 6 },
    ]);
    // Not measured (e.g. VaR unavailable): the state is kept.
    expect(limitTransitions("A", breached, [], 7)).toEqual({ events: [], breached: ["maxVar"] });
  });
});
