/**
 * One account's risk figures: positions valued in the reporting currency, exposure (total and by
 * sector), P&L and VaR. Positions that cannot be valued (unknown instrument or FX, no mark yet) are
 * listed in `unvalued` and left out of every figure, which are then lower bounds; VaR likewise lists
 * the open positions whose volatility is not ready yet in `varMissing`.
 */
import { exposureOf, type SectorExposure } from "./exposure.js";
import { valuePosition, type PositionState, type UnvaluedReason, type ValuedPosition } from "./positions.js";
import type { ReferenceTable } from "./reference-table.js";
import type { SymbolState } from "./market.js";
import type { VarModel } from "./var.js";

/** State of one account (plain JSON). */
export type AccountState = {
  readonly account: string;
  /** One per symbol ever traded (flat ones keep their realised P&L), sorted by symbol. */
  readonly positions: readonly PositionState[];
  /** Ids of the limits currently breached (see limits.ts), sorted. */
  readonly breached: readonly string[];
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
};

export function emptyAccount(account: string): AccountState {
  return { account, positions: [], breached: [] };
}

export function accountRisk(state: AccountState, reference: ReferenceTable, symbol: (s: string) => SymbolState | undefined, model: VarModel): AccountRisk {
  const valued: ValuedPosition[] = [];
  const unvalued: UnvaluedReason[] = [];
  for (const p of state.positions) {
    const instrument = reference.instrument(p.symbol);
    const fx = instrument === undefined ? undefined : reference.rate(instrument.currency, reference.reportingCurrency);
    const mark = symbol(p.symbol)?.mark ?? undefined;
    const v = valuePosition(p, instrument, fx?.ok === true ? fx.rate : undefined, mark);
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
    const sigma = model.sigma(symbol(v.symbol)?.ewma ?? undefined);
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
  };
}
