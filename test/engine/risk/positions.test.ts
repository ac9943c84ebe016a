import { describe, expect, it } from "vitest";
import { applyTrade, emptyPosition, mid, valuePosition, type PositionState, type Side } from "../../../src/engine/risk/positions.js";

const trade = (side: Side, quantity: number, price: number) => ({ side, quantity, price });
const run = (trades: Array<ReturnType<typeof trade>>): PositionState => trades.reduce(applyTrade, emptyPosition("X"));

describe("positions", () => {
  it("averages the cost of buys", () => {
    expect(run([trade("BUY", 100, 10), trade("BUY", 50, 13)])).toEqual({
      symbol: "X",
      quantity: 150,
      avgPrice: 11,
      realisedPoints: 0,
      tradeCount: 2,
    });
  });

  it("realises P&L on a partial sell and keeps the cost of the rest", () => {
    const p = run([trade("BUY", 100, 10), trade("BUY", 50, 13), trade("SELL", 60, 14)]);
    expect(p).toMatchObject({ quantity: 90, avgPrice: 11, realisedPoints: 60 * (14 - 11) });
  });

  it("flips long to short: closes the long, opens the remainder at the trade price", () => {
    const p = run([trade("BUY", 100, 10), trade("BUY", 50, 13), trade("SELL", 60, 14), trade("SELL", 150, 12)]);
    expect(p).toMatchObject({ quantity: -60, avgPrice: 12, realisedPoints: 180 + 90 * (12 - 11) });
    const covered = applyTrade(p, trade("BUY", 60, 10));
    expect(covered).toMatchObject({ quantity: 0, avgPrice: 0, realisedPoints: 270 + 60 * (12 - 10) });
    // Flip short to long as well.
    expect(applyTrade(p, trade("BUY", 100, 11))).toMatchObject({ quantity: 40, avgPrice: 11, realisedPoints: 270 + 60 });
  });

  it("averages the cost of a growing short", () => {
    expect(run([trade("SELL", 10, 20), trade("SELL", 30, 24)])).toMatchObject({ quantity: -40, avgPrice: 23, realisedPoints: 0 });
  });

  it("marks to market with the contract multiplier and FX", () => {
    expect(mid(4099, 4101)).toBe(4100);
    const p = run([trade("BUY", 3, 4000), trade("SELL", 1, 4200)]); // 2 left at 4000, realised 200 points
    const fesx = { symbol: "X", sector: "INDEX", currency: "EUR", contractMultiplier: 10 };
    expect(valuePosition(p, fesx, 1.25, 4100)).toEqual({
      ok: true,
      symbol: "X",
      sector: "INDEX",
      currency: "EUR",
      quantity: 2,
      avgPrice: 4000,
      mark: 4100,
      exposure: 2 * 4100 * 10 * 1.25,
      unrealisedPnl: (4100 - 4000) * 2 * 10 * 1.25,
      realisedPnl: 200 * 10 * 1.25,
      fxRate: 1.25,
    });
    const short = run([trade("SELL", 4, 50)]);
    const v = valuePosition(short, { ...fesx, contractMultiplier: 1, currency: "USD" }, 1, 55);
    expect(v).toMatchObject({ ok: true, exposure: -220, unrealisedPnl: -20 });
  });

  it("says why a position cannot be valued", () => {
    const p = run([trade("BUY", 1, 10)]);
    const inst = { symbol: "X", sector: "S", currency: "CHF", contractMultiplier: 1 };
    expect(valuePosition(p, undefined, 1, 10)).toEqual({ ok: false, symbol: "X", reason: "unknown-instrument" });
    expect(valuePosition(p, inst, undefined, 10)).toEqual({ ok: false, symbol: "X", reason: "unknown-fx", currency: "CHF" });
    expect(valuePosition(p, inst, 1, undefined)).toEqual({ ok: false, symbol: "X", reason: "no-mark" });
    // A flat position needs no mark: it only carries realised P&L.
    const flat = applyTrade(p, trade("SELL", 1, 12));
    expect(valuePosition(flat, inst, 2, undefined)).toMatchObject({ ok: true, exposure: 0, unrealisedPnl: 0, realisedPnl: 4 });
  });
});
