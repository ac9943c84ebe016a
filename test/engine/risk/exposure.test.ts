import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/engine/types.js";
import { exposureOf } from "../../../src/engine/risk/exposure.js";
import { accountRisk } from "../../../src/engine/risk/account-risk.js";
import type { MarketLookup } from "../../../src/engine/risk/market.js";
import { ReferenceTable, type ReferenceEntry } from "../../../src/engine/risk/reference-table.js";
import { VarModel } from "../../../src/engine/risk/var.js";

describe("exposure", () => {
  it("sums gross and net, in total and by sector", () => {
    expect(
      exposureOf([
        { sector: "TECH", exposure: 500 },
        { sector: "ENERGY", exposure: -300 },
        { sector: "TECH", exposure: -200 },
        { sector: "BANKS", exposure: 100 },
      ]),
    ).toEqual({
      gross: 1100,
      net: 100,
      sectors: [
        { sector: "BANKS", gross: 100, net: 100 },
        { sector: "ENERGY", gross: 300, net: -300 },
        { sector: "TECH", gross: 700, net: 300 },
      ],
    });
    expect(exposureOf([])).toEqual({ gross: 0, net: 0, sectors: [] });
  });

  it("values an account across currencies and lists what it cannot value", () => {
    const ref = new ReferenceTable(new MemoryStore<ReferenceEntry>());
    ref.upsertInstrument({ symbol: "AAPL", sector: "TECH", currency: "USD", contractMultiplier: 1 }, 0);
    ref.upsertInstrument({ symbol: "SAP", sector: "TECH", currency: "EUR", contractMultiplier: 1 }, 0);
    ref.upsertInstrument({ symbol: "NESN", sector: "FOOD", currency: "CHF", contractMultiplier: 1 }, 0);
    ref.upsertFx({ base: "EUR", quote: "USD", rate: 1.25 }, 0);
    const marks: Record<string, number> = { AAPL: 100, SAP: 200, NESN: 90 };
    const market: MarketLookup = (s) => (marks[s] === undefined ? undefined : { mark: marks[s], markValidFromMs: 0, ewma: undefined });
    const risk = accountRisk(
      {
        account: "A",
        positions: [
          { symbol: "AAPL", quantity: 10, avgPrice: 90, realisedPoints: 0, tradeCount: 1 },
          { symbol: "NESN", quantity: 5, avgPrice: 80, realisedPoints: 0, tradeCount: 1 },
          { symbol: "SAP", quantity: -4, avgPrice: 210, realisedPoints: 8, tradeCount: 2 },
        ],
        breached: [],
      },
      ref,
      market,
      new VarModel(),
    );
    expect(risk).toMatchObject({
      currency: "USD",
      grossExposure: 1000 + 1000,
      netExposure: 0,
      sectors: [{ sector: "TECH", gross: 2000, net: 0 }],
      realisedPnl: 10,
      unrealisedPnl: 100 + 50,
      totalPnl: 160,
      unvalued: [{ symbol: "NESN", reason: "unknown-fx", currency: "CHF" }],
      // Which mark each position was valued with (NESN had one, but no FX).
      marks: [
        { symbol: "AAPL", mark: 100, validFromMs: 0 },
        { symbol: "NESN", mark: 90, validFromMs: 0 },
        { symbol: "SAP", mark: 200, validFromMs: 0 },
      ],
    });
  });
});
