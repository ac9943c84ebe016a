import { describe, expect, it } from "vitest";
import { ewmaUpdate, ewmaVariance, horizonScale, logReturn, normalQuantile, portfolioVar, singleVar, VarModel } from "../../../src/engine/risk/var.js";
import { applyMark, emptySymbol } from "../../../src/engine/risk/market.js";

const prices = [100, 101.5, 100.7, 102.3, 99.8, 98.4, 100.1, 103.2, 102.9, 104.6, 103.3, 105.0];
const Z99 = 2.326347874040841; // Φ⁻¹(0.99)

/** Independent reference: a straightforward loop over the price sequence. */
function referenceVariance(px: number[], lambda: number): number {
  let variance = 0;
  for (let i = 1; i < px.length; i++) {
    const r = Math.log(px[i]! / px[i - 1]!);
    variance = i === 1 ? r * r : lambda * variance + (1 - lambda) * r * r;
  }
  return variance;
}

describe("EWMA volatility", () => {
  it("matches a hand-computed two-step case", () => {
    // σ²₁ = 0.01² = 1e-4; σ²₂ = 0.94·1e-4 + 0.06·0.02² = 1.18e-4
    expect(ewmaVariance([0.01, -0.02])).toBeCloseTo(1.18e-4, 15);
    expect(ewmaVariance([])).toBeUndefined();
    expect(ewmaUpdate(undefined, 0.03)).toEqual({ variance: 0.03 * 0.03, count: 1 });
  });

  it("matches an independently computed sequence to 1e-12", () => {
    for (const lambda of [0.94, 0.97, 0.5]) {
      const returns = prices.slice(1).map((p, i) => logReturn(prices[i]!, p));
      const got = ewmaVariance(returns, lambda)!;
      expect(Math.abs(got - referenceVariance(prices, lambda))).toBeLessThan(1e-12);
    }
  });

  it("is what the quote path maintains per symbol (mids as marks)", () => {
    let s = emptySymbol("X");
    prices.forEach((p, i) => {
      const next = applyMark(s, (p - 0.05 + (p + 0.05)) / 2, i * 1000, 0.94);
      if (next === "stale") throw new Error("unexpected stale");
      s = next;
    });
    const mids = prices.map((p) => (p - 0.05 + (p + 0.05)) / 2);
    expect(s.ewma!.count).toBe(prices.length - 1);
    expect(Math.abs(s.ewma!.variance - referenceVariance(mids, 0.94))).toBeLessThan(1e-12);
    expect(applyMark(s, 1.5, 0, 0.94)).toBe("stale");
  });

  it("reports sigma only after minReturns returns", () => {
    const m = new VarModel({ minReturns: 3 });
    expect(m.sigma(undefined)).toBeUndefined();
    expect(m.sigma({ variance: 0.0004, count: 2 })).toBeUndefined();
    expect(m.sigma({ variance: 0.0004, count: 3 })).toBeCloseTo(0.02, 15);
  });
});

describe("parametric VaR", () => {
  it("inverts the normal CDF", () => {
    expect(Math.abs(normalQuantile(0.99) - Z99)).toBeLessThan(1e-8);
    expect(Math.abs(normalQuantile(0.95) - 1.6448536269514722)).toBeLessThan(1e-8);
    expect(Math.abs(normalQuantile(0.001) + 3.090232306167813)).toBeLessThan(1e-8);
    expect(normalQuantile(0.5)).toBe(0);
    expect(new VarModel().z).toBeCloseTo(2.3263, 4);
  });

  it("single position: z·|E|·σ·√(h/Δ)", () => {
    const E = -1_250_000;
    const sigma = 0.018;
    expect(singleVar(E, sigma, Z99)).toBeCloseTo(Z99 * 1_250_000 * 0.018, 9);
    const tenDays = horizonScale(10 * 86_400_000, 86_400_000);
    expect(tenDays).toBeCloseTo(Math.sqrt(10), 15);
    expect(singleVar(E, sigma, Z99, tenDays)).toBeCloseTo(Z99 * 1_250_000 * 0.018 * Math.sqrt(10), 8);
    // The portfolio formula with one asset is the single-position formula.
    expect(portfolioVar([E], [sigma], () => 0, Z99)).toBeCloseTo(singleVar(E, sigma, Z99), 9);
  });

  it("two-asset portfolio against the closed form", () => {
    const [e1, e2, s1, s2, rho] = [1_000_000, -400_000, 0.02, 0.035, 0.3];
    const expected = Z99 * Math.sqrt(e1 ** 2 * s1 ** 2 + e2 ** 2 * s2 ** 2 + 2 * rho * e1 * e2 * s1 * s2);
    expect(portfolioVar([e1, e2], [s1, s2], () => rho, Z99)).toBeCloseTo(expected, 8);
    // Via the model, with a per-pair override and a 5-day horizon on daily returns.
    const model = new VarModel({ z: Z99, correlation: 0.9, pairCorrelations: { "AAA|BBB": rho }, horizonMs: 5 * 86_400_000 });
    expect(model.rho("BBB", "AAA")).toBe(rho);
    expect(model.rho("AAA", "CCC")).toBe(0.9);
    const got = model.portfolioVar([
      { symbol: "BBB", exposure: e2, sigma: s2 },
      { symbol: "AAA", exposure: e1, sigma: s1 },
    ]);
    expect(got).toBeCloseTo(expected * Math.sqrt(5), 7);
    // Perfect correlation: long and short offset, |Σ Eσ|.
    expect(portfolioVar([e1, e2], [s1, s2], () => 1, Z99)).toBeCloseTo(Z99 * Math.abs(e1 * s1 + e2 * s2), 8);
  });

  it("validates its options", () => {
    expect(() => new VarModel({ lambda: 1 })).toThrow(RangeError);
    expect(() => new VarModel({ correlation: 1.5 })).toThrow(RangeError);
    expect(() => new VarModel({ minReturns: 0 })).toThrow(RangeError);
  });
});
