/**
 * Configurable per-account risk limits and their breach / cleared transitions.
 *
 * Every limit is measured as a non-negative `value` against a `threshold`; it is crossed when
 * value > threshold (strictly) and back under when value ≤ threshold:
 * - maxGrossExposure:     value = gross exposure (Σ |exposure|).
 * - maxSectorNetExposure: value = |net exposure| of one sector (one limit per sector).
 * - maxVar:               value = the account's portfolio VaR (not measured while VaR is unavailable).
 * - maxLoss:              value = −(realised + unrealised P&L), i.e. the loss; breached when
 *                         P&L < −threshold.
 * Hysteresis is by state: a breach event is emitted when a limit is first crossed, a cleared event
 * when it goes back under, nothing while it stays on one side. A limit that is not measured on an
 * evaluation (VaR unavailable, or no longer configured) keeps its state.
 */
import { z } from "zod";

export type LimitKind = "maxGrossExposure" | "maxSectorNetExposure" | "maxVar" | "maxLoss";

// The limits' schema is the settings' (WEIR_RISK_LIMITS) check and the source of their types. Strict: an unknown
// key (a typo such as `maxLos`) is refused instead of leaving an account without that limit.
const threshold = z.number().min(0);

export const accountLimitsSchema = z
  .strictObject({
    maxGrossExposure: threshold.optional(),
    /** Applies to every sector unless overridden in `maxSectorNetExposureBySector`. */
    maxSectorNetExposure: threshold.optional(),
    maxSectorNetExposureBySector: z.record(z.string(), threshold).readonly().optional(),
    maxVar: threshold.optional(),
    /** A positive amount X: breached when total P&L < −X. */
    maxLoss: threshold.optional(),
  })
  .readonly();

export const limitsConfigSchema = z
  .strictObject({
    /** Limits of every account. */
    default: accountLimitsSchema.optional(),
    /** Per-account limits, merged field by field over `default`. */
    accounts: z.record(z.string(), accountLimitsSchema).readonly().optional(),
  })
  .readonly();

export type AccountLimits = z.output<typeof accountLimitsSchema>;

export type LimitsConfig = z.output<typeof limitsConfigSchema>;

export type LimitEvent = {
  readonly type: "breach" | "cleared";
  readonly account: string;
  readonly limit: LimitKind;
  /** Only for maxSectorNetExposure. */
  readonly sector?: string;
  readonly value: number;
  readonly threshold: number;
  readonly atMs: number;
};

/** One limit measured for one account. `id` identifies it in the breach state. */
export type Measurement = {
  readonly id: string;
  readonly limit: LimitKind;
  readonly sector?: string;
  readonly value: number;
  readonly threshold: number;
};

/** The account figures the limits look at. */
export type LimitInputs = {
  readonly grossExposure: number;
  readonly sectors: ReadonlyArray<{ readonly sector: string; readonly net: number }>;
  readonly var: number | null;
  readonly totalPnl: number;
};

const SECTOR_PREFIX = "maxSectorNetExposure/";

export function limitId(limit: LimitKind, sector?: string): string {
  return limit === "maxSectorNetExposure" ? `${SECTOR_PREFIX}${sector ?? ""}` : limit;
}

export function limitsFor(config: LimitsConfig, account: string): AccountLimits {
  const own = config.accounts !== undefined && Object.hasOwn(config.accounts, account) ? config.accounts[account] : undefined;
  const base = config.default ?? {};
  if (own === undefined) return base;
  return {
    ...base,
    ...own,
    maxSectorNetExposureBySector: { ...base.maxSectorNetExposureBySector, ...own.maxSectorNetExposureBySector },
  };
}

function sectorThreshold(limits: AccountLimits, sector: string): number | undefined {
  const by = limits.maxSectorNetExposureBySector;
  if (by !== undefined && Object.hasOwn(by, sector)) return by[sector];
  return limits.maxSectorNetExposure;
}

export function validateLimits(config: LimitsConfig): void {
  const all = [config.default ?? {}, ...Object.values(config.accounts ?? {})];
  for (const l of all) {
    const values = [l.maxGrossExposure, l.maxSectorNetExposure, l.maxVar, l.maxLoss, ...Object.values(l.maxSectorNetExposureBySector ?? {})];
    for (const v of values) {
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError("limit thresholds must be finite numbers >= 0");
    }
  }
}

/**
 * Measures the configured limits, in a fixed order: gross, sectors (sorted; including sectors
 * currently breached that no longer hold positions, measured at 0), VaR, loss.
 */
export function measureLimits(limits: AccountLimits, inputs: LimitInputs, breached: readonly string[]): Measurement[] {
  const out: Measurement[] = [];
  if (limits.maxGrossExposure !== undefined) {
    out.push({ id: limitId("maxGrossExposure"), limit: "maxGrossExposure", value: inputs.grossExposure, threshold: limits.maxGrossExposure });
  }
  const sectorNet = new Map<string, number>();
  for (const s of inputs.sectors) sectorNet.set(s.sector, s.net);
  for (const id of breached) {
    if (id.startsWith(SECTOR_PREFIX)) {
      const sector = id.slice(SECTOR_PREFIX.length);
      if (!sectorNet.has(sector)) sectorNet.set(sector, 0);
    }
  }
  for (const sector of [...sectorNet.keys()].sort()) {
    const threshold = sectorThreshold(limits, sector);
    if (threshold === undefined) continue;
    out.push({
      id: limitId("maxSectorNetExposure", sector),
      limit: "maxSectorNetExposure",
      sector,
      value: Math.abs(sectorNet.get(sector)!),
      threshold,
    });
  }
  if (limits.maxVar !== undefined && inputs.var !== null) {
    out.push({ id: limitId("maxVar"), limit: "maxVar", value: inputs.var, threshold: limits.maxVar });
  }
  if (limits.maxLoss !== undefined) {
    out.push({ id: limitId("maxLoss"), limit: "maxLoss", value: -inputs.totalPnl, threshold: limits.maxLoss });
  }
  return out;
}

/** Applies measurements to the breach state: the events to emit and the new state (sorted ids). */
export function limitTransitions(
  account: string,
  breached: readonly string[],
  measurements: readonly Measurement[],
  atMs: number,
): { events: LimitEvent[]; breached: string[] } {
  const now = new Set(breached);
  const events: LimitEvent[] = [];
  for (const m of measurements) {
    const crossed = m.value > m.threshold;
    const was = now.has(m.id);
    if (crossed === was) continue;
    if (crossed) now.add(m.id);
    else now.delete(m.id);
    events.push({
      type: crossed ? "breach" : "cleared",
      account,
      limit: m.limit,
      ...(m.sector !== undefined ? { sector: m.sector } : {}),
      value: m.value,
      threshold: m.threshold,
      atMs,
    });
  }
  return { events, breached: [...now].sort() };
}
