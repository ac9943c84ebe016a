/**
 * Parametric (delta-normal) VaR with RiskMetrics EWMA volatility. The math is exported as pure
 * functions; `VarModel` bundles the options.
 *
 * Assumptions (documented, deliberately simple):
 * - Returns are log returns between successive marks of a symbol, ln(mid_n / mid_{n−1}), with
 *   zero mean (RiskMetrics). Each return is assumed to span `returnIntervalMs` (default one day):
 *   feed the operator sampled marks (e.g. one quote per interval from a window) if the raw quote
 *   stream ticks faster. No adjustment is made for gaps.
 * - EWMA variance: the first return seeds σ²₁ = r₁²; then σ²ₙ = λ·σ²ₙ₋₁ + (1 − λ)·rₙ²
 *   (λ default 0.94). A symbol's volatility is reported only once it has `minReturns` returns.
 * - Horizon scaling by the square root of time: σ_h = σ · √(horizonMs / returnIntervalMs).
 * - Portfolio: VaR = z · √(Σᵢ Σⱼ Eᵢ Eⱼ ρᵢⱼ σᵢ σⱼ) · √(h/Δ), where Eᵢ is the signed exposure in the
 *   reporting currency. Correlations are NOT estimated: ρᵢⱼ is a configured constant
 *   (`correlation`, default 0 = independent) with optional per-pair overrides; ρᵢᵢ = 1.
 *   FX rate volatility is ignored (exposures are converted at the current rate).
 * - VaR is a positive loss amount at confidence c: z = Φ⁻¹(c) (c default 0.99, z ≈ 2.3263).
 */

/** EWMA state of one symbol (plain JSON). */
export type EwmaState = {
  /** Current variance estimate of one-interval log returns. */
  readonly variance: number;
  /** Returns seen so far. */
  readonly count: number;
};

export const DEFAULT_LAMBDA = 0.94;
export const DEFAULT_CONFIDENCE = 0.99;
export const DEFAULT_MIN_RETURNS = 20;
export const ONE_DAY_MS = 86_400_000;

export function logReturn(previous: number, next: number): number {
  return Math.log(next / previous);
}

/** One EWMA step; `undefined` state = no return seen yet (the first return seeds the variance). */
export function ewmaUpdate(state: EwmaState | undefined, r: number, lambda: number = DEFAULT_LAMBDA): EwmaState {
  if (state === undefined || state.count === 0) return { variance: r * r, count: 1 };
  return { variance: lambda * state.variance + (1 - lambda) * r * r, count: state.count + 1 };
}

/** EWMA variance after a sequence of returns (undefined for no returns). */
export function ewmaVariance(returns: readonly number[], lambda: number = DEFAULT_LAMBDA): number | undefined {
  let state: EwmaState | undefined;
  for (const r of returns) state = ewmaUpdate(state, r, lambda);
  return state?.variance;
}

/** √(horizon / return interval): the square-root-of-time scaling. */
export function horizonScale(horizonMs: number, returnIntervalMs: number): number {
  return Math.sqrt(horizonMs / returnIntervalMs);
}

/** VaR of a single exposure: z · |E| · σ · scale. */
export function singleVar(exposure: number, sigma: number, z: number, scale = 1): number {
  return z * Math.abs(exposure) * sigma * scale;
}

/**
 * wᵀΣw with w = exposures and Σᵢⱼ = ρᵢⱼ σᵢ σⱼ; `correlation(i, j)` is asked for i < j only.
 * A correlation input that is not positive semi-definite can make this negative: it is clamped to 0.
 */
export function portfolioVariance(exposures: readonly number[], sigmas: readonly number[], correlation: (i: number, j: number) => number): number {
  if (exposures.length !== sigmas.length) throw new RangeError("exposures and sigmas differ in length");
  let v = 0;
  for (let i = 0; i < exposures.length; i++) {
    const ei = exposures[i]! * sigmas[i]!;
    v += ei * ei;
    for (let j = i + 1; j < exposures.length; j++) {
      v += 2 * ei * exposures[j]! * sigmas[j]! * correlation(i, j);
    }
  }
  return Math.max(0, v);
}

/** z · √(wᵀΣw) · scale. */
export function portfolioVar(
  exposures: readonly number[],
  sigmas: readonly number[],
  correlation: (i: number, j: number) => number,
  z: number,
  scale = 1,
): number {
  return z * Math.sqrt(portfolioVariance(exposures, sigmas, correlation)) * scale;
}

/**
 * Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - pLow) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

export type VarOptions = {
  /** EWMA decay (default 0.94). */
  readonly lambda?: number;
  /** Returns a symbol needs before its volatility counts (default 20). */
  readonly minReturns?: number;
  /** Confidence level (default 0.99); ignored when `z` is given. */
  readonly confidence?: number;
  /** The quantile directly (overrides `confidence`). */
  readonly z?: number;
  /** VaR horizon (default one day). */
  readonly horizonMs?: number;
  /** Interval each return is assumed to span (default one day). */
  readonly returnIntervalMs?: number;
  /** Correlation between any two distinct symbols (default 0). */
  readonly correlation?: number;
  /** Overrides per pair, keyed "A|B" with A < B (code-unit order). */
  readonly pairCorrelations?: Readonly<Record<string, number>>;
};

/** The resolved VaR model (options with defaults applied and validated). */
export class VarModel {
  readonly lambda: number;
  readonly minReturns: number;
  readonly z: number;
  readonly scale: number;
  private readonly correlation: number;
  private readonly pairs: Readonly<Record<string, number>>;

  constructor(options: VarOptions = {}) {
    this.lambda = options.lambda ?? DEFAULT_LAMBDA;
    if (!(this.lambda > 0 && this.lambda < 1)) throw new RangeError("lambda must be in (0, 1)");
    this.minReturns = options.minReturns ?? DEFAULT_MIN_RETURNS;
    if (!Number.isInteger(this.minReturns) || this.minReturns < 1) throw new RangeError("minReturns must be an integer >= 1");
    this.z = options.z ?? normalQuantile(options.confidence ?? DEFAULT_CONFIDENCE);
    const horizonMs = options.horizonMs ?? ONE_DAY_MS;
    const intervalMs = options.returnIntervalMs ?? ONE_DAY_MS;
    if (!(horizonMs > 0 && intervalMs > 0)) throw new RangeError("horizonMs and returnIntervalMs must be > 0");
    this.scale = horizonScale(horizonMs, intervalMs);
    this.correlation = options.correlation ?? 0;
    this.pairs = options.pairCorrelations ?? {};
    for (const rho of [this.correlation, ...Object.values(this.pairs)]) {
      if (!(rho >= -1 && rho <= 1)) throw new RangeError("correlations must be in [-1, 1]");
    }
  }

  /** ρ between two distinct symbols. */
  rho(a: string, b: string): number {
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    return Object.hasOwn(this.pairs, key) ? this.pairs[key]! : this.correlation;
  }

  /** σ of one return interval, or undefined while fewer than `minReturns` returns were seen. */
  sigma(state: EwmaState | undefined): number | undefined {
    if (state === undefined || state.count < this.minReturns) return undefined;
    return Math.sqrt(state.variance);
  }

  /** Portfolio VaR over the horizon for symbol exposures with known σ. */
  portfolioVar(items: ReadonlyArray<{ readonly symbol: string; readonly exposure: number; readonly sigma: number }>): number {
    return portfolioVar(
      items.map((i) => i.exposure),
      items.map((i) => i.sigma),
      (i, j) => this.rho(items[i]!.symbol, items[j]!.symbol),
      this.z,
      this.scale,
    );
  }
}
