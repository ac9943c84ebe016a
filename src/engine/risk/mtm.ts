/**
 * Mark-to-market of one (account, symbol) position: quantity, mark, market value, realised and
 * unrealised P&L in the reporting currency, and the policy that decides when a new figure is
 * emitted as quotes move:
 * - "per-quote": at every quote of a held symbol (for each holder) and every trade;
 * - "interval":  when event time crosses a multiple of intervalMs, for every position whose
 *                figures differ from the last emitted ones (figures as of just before the boundary);
 * - "on-change": when the quantity changes, or the market value moves by at least `absolute`
 *                (reporting currency) or by at least `relative` × its last emitted value.
 * Whatever the policy, an advance of the watermark emits every position whose figures differ from
 * the last emitted ones, so the last figure per (account, symbol) is always the current one.
 */
import { z } from "zod";
import type { InstrumentRef } from "./reference-table.js";
import type { MarketView } from "./market.js";
import { valuePosition, type PositionState, type UnvaluedReason } from "./positions.js";

export const mtmPolicySchema = z.discriminatedUnion("emit", [
  z.strictObject({ emit: z.literal("per-quote") }),
  z.strictObject({ emit: z.literal("interval"), intervalMs: z.number().positive().finite() }),
  z
    .strictObject({ emit: z.literal("on-change"), relative: z.number().positive().optional(), absolute: z.number().positive().optional() })
    .refine((p) => p.relative !== undefined || p.absolute !== undefined, "on-change needs a relative or an absolute threshold"),
]);

export type MtmPolicy = z.output<typeof mtmPolicySchema>;

/** Default: one figure per second of event time per changed position (bounded output, however fast quotes tick). */
export const DEFAULT_MTM_POLICY: MtmPolicy = Object.freeze({ emit: "interval", intervalMs: 1000 });

/** The figures compared between emissions (plain JSON, kept per account and symbol). Amounts are null when unvalued. */
export type MtmFigures = {
  readonly quantity: number;
  readonly avgPrice: number;
  readonly mark: number | null;
  readonly markValidFromMs: number | null;
  readonly marketValue: number | null;
  readonly realisedPnl: number | null;
  readonly unrealisedPnl: number | null;
};

/** One record of the "mtm" stream, keyed by account. */
export type MtmUpdate = {
  readonly type: "mtm";
  readonly account: string;
  readonly symbol: string;
  /** Reporting currency of every amount. */
  readonly currency: string;
  /** Event time the figures are as of (the latest trade or quote applied). */
  readonly asOfMs: number;
  readonly totalPnl: number | null;
  /** Why amounts are null (no instrument, FX or mark yet). */
  readonly unvalued?: UnvaluedReason["reason"];
} & MtmFigures;

export function mtmFigures(
  position: PositionState,
  instrument: InstrumentRef | undefined,
  fxRate: number | undefined,
  view: MarketView | undefined,
): { figures: MtmFigures; unvalued?: UnvaluedReason["reason"] } {
  const v = valuePosition(position, instrument, fxRate, view?.mark);
  const base = { quantity: position.quantity, avgPrice: position.avgPrice, mark: view?.mark ?? null, markValidFromMs: view?.markValidFromMs ?? null };
  if (!v.ok) return { figures: { ...base, marketValue: null, realisedPnl: null, unrealisedPnl: null }, unvalued: v.reason };
  return { figures: { ...base, marketValue: v.exposure, realisedPnl: v.realisedPnl, unrealisedPnl: v.unrealisedPnl } };
}

export function sameFigures(a: MtmFigures | undefined, b: MtmFigures): boolean {
  return (
    a !== undefined &&
    a.quantity === b.quantity &&
    a.avgPrice === b.avgPrice &&
    a.mark === b.mark &&
    a.markValidFromMs === b.markValidFromMs &&
    a.marketValue === b.marketValue &&
    a.realisedPnl === b.realisedPnl &&
    a.unrealisedPnl === b.unrealisedPnl
  );
}

/** Whether an "on-change" policy emits `next` after `last` (always when nothing was emitted yet). */
export function movedEnough(policy: Extract<MtmPolicy, { emit: "on-change" }>, last: MtmFigures | undefined, next: MtmFigures): boolean {
  if (last === undefined || last.quantity !== next.quantity) return true;
  if (sameFigures(last, next)) return false;
  if (last.marketValue === null || next.marketValue === null) return last.marketValue !== next.marketValue;
  const move = Math.abs(next.marketValue - last.marketValue);
  if (policy.absolute !== undefined && move >= policy.absolute) return true;
  return policy.relative !== undefined && move >= policy.relative * Math.abs(last.marketValue) && move > 0;
}

export function mtmUpdate(
  account: string,
  symbol: string,
  currency: string,
  asOfMs: number,
  figures: MtmFigures,
  unvalued?: UnvaluedReason["reason"],
): MtmUpdate {
  const totalPnl = figures.realisedPnl === null || figures.unrealisedPnl === null ? null : figures.realisedPnl + figures.unrealisedPnl;
  return { type: "mtm", account, symbol, currency, asOfMs, ...figures, totalPnl, ...(unvalued !== undefined ? { unvalued } : {}) };
}
