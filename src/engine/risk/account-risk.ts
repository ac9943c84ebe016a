/**
 * One account's risk figures: positions valued in the reporting currency, exposure (total and by
 * sector), P&L and VaR. Positions that cannot be valued (unknown instrument or FX, no mark yet) are
 * listed in `unvalued` and left out of every figure, which are then lower bounds; VaR likewise lists
 * the open positions whose volatility is not ready yet in `varMissing`.
 *
 * Valuation is at one instant the caller chooses through the MarketLookup (the marks and
 * volatilities as of a trade's event time, or the latest); `marks` says which mark, valid from
 * when, each position was valued with.
 */
import { exposureOf, type SectorExposure } from "./exposure.js";
import { valuePosition, type PositionState, type UnvaluedReason, type ValuedPosition } from "./positions.js";
import type { ReferenceTable } from "./reference-table.js";
import type { MarketLookup } from "./market.js";
import type { MtmFigures } from "./mtm.js";
import type { VarModel } from "./var.js";

/** State of one account (plain JSON). */
export type AccountState = {
  readonly account: string;
  /** One per symbol ever traded (flat ones keep their realised P&L), sorted by symbol. */
  readonly positions: readonly PositionState[];
  /** Ids of the limits currently breached (see limits.ts), sorted. */
  readonly breached: readonly string[];
  /** Per symbol, the mark-to-market figures last emitted (see mtm.ts); absent before the first. */
  readonly mtm?: Readonly<Record<string, MtmFigures>>;
};

/** The mark a position was valued with: the mid of the quote valid from `validFromMs`. */
export type UsedMark = {
  readonly symbol: string;
  readonly mark: number;
  readonly validFromMs: number;
};

export type AccountRisk = {
  readonly account: string;
  /** Reporting currency of every amount. */
  readonly currency: string;
  readonly grossExposure: number;
  readonly netExposure: number;
  readonly sectors: readonly SectorExposure[];
  readonly realisedPnl: number;
  readonly unrealisedPnl: number;
  readonly totalPnl: number;
  /**
   * Portfolio VaR over the open valued positions whose volatility is ready; 0 with no open
   * position; null when no open position has a ready volatility.
   */
  readonly var: number | null;
  readonly varSymbols: readonly string[];
  readonly varMissing: readonly string[];
  readonly positions: readonly ValuedPosition[];
  readonly unvalued: readonly UnvaluedReason[];
  /** The mark used per position symbol that had one at the valuation instant, sorted by symbol. */
  readonly marks: readonly UsedMark[];
};

export function emptyAccount(account: string): AccountState {
  return { account, positions: [], breached: [] };
}

export function accountRisk(state: AccountState, reference: ReferenceTable, market: MarketLookup, model: VarModel): AccountRisk {
  const valued: ValuedPosition[] = [];
  const unvalued: UnvaluedReason[] = [];
  const marks: UsedMark[] = [];
  const views = new Map<string, ReturnType<MarketLookup>>();
  for (const p of state.positions) {
    const instrument = reference.instrument(p.symbol);
    const fx = instrument === undefined ? undefined : reference.rate(instrument.currency, reference.reportingCurrency);
    const view = market(p.symbol);
    views.set(p.symbol, view);
    if (view !== undefined) marks.push({ symbol: p.symbol, mark: view.mark, validFromMs: view.markValidFromMs });
    const v = valuePosition(p, instrument, fx?.ok === true ? fx.rate : undefined, view?.mark);
    if (v.ok) {
      const { ok: _ok, ...rest } = v;
      valued.push(rest);
    } else {
      const { ok: _ok, ...rest } = v;
      unvalued.push(rest);
    }
  }
  const exposure = exposureOf(valued);
  let realisedPnl = 0;
  let unrealisedPnl = 0;
  for (const v of valued) {
    realisedPnl += v.realisedPnl;
    unrealisedPnl += v.unrealisedPnl;
  }

  const items: Array<{ symbol: string; exposure: number; sigma: number }> = [];
  const varMissing: string[] = [];
  for (const v of valued) {
    if (v.quantity === 0) continue;
    const sigma = model.sigma(views.get(v.symbol)?.ewma);
    if (sigma === undefined) varMissing.push(v.symbol);
    else items.push({ symbol: v.symbol, exposure: v.exposure, sigma });
  }
  const var_ = items.length > 0 ? model.portfolioVar(items) : varMissing.length > 0 ? null : 0;

  return {
    account: state.account,
    currency: reference.reportingCurrency,
    grossExposure: exposure.gross,
    netExposure: exposure.net,
    sectors: exposure.sectors,
    realisedPnl,
    unrealisedPnl,
    totalPnl: realisedPnl + unrealisedPnl,
    var: var_,
    varSymbols: items.map((i) => i.symbol),
    varMissing,
    positions: valued,
    unvalued,
    marks,
  };
}
