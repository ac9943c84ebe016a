/**
 * Per-symbol market state: the mark applied last in event-time order (mid of the quote), the EWMA
 * volatility of log returns between successive marks, and the accounts holding a non-flat
 * position (so a quote revalues only them). Plain JSON.
 *
 * Every quote's mid is also kept as a version in a VersionedTable of marks (see timeline.ts), so a
 * trade is priced with the mark as of its own event time; this state is the "current" side.
 */
import { ewmaUpdate, logReturn, type EwmaState } from "./var.js";

export type SymbolState = {
  readonly symbol: string;
  /** Mid of the latest quote applied in event-time order; null before the first. */
  readonly mark: number | null;
  readonly markAtMs: number | null;
  readonly ewma: EwmaState | null;
  /** Accounts with a non-flat position in the symbol, sorted. */
  readonly holders: readonly string[];
};

/** What valuation needs of a symbol at one instant: the mark, valid from when, and the volatility. */
export type MarketView = {
  readonly mark: number;
  readonly markValidFromMs: number;
  readonly ewma: EwmaState | undefined;
};

/** A symbol's market view at the instant the caller has in mind (undefined: no mark yet). */
export type MarketLookup = (symbol: string) => MarketView | undefined;

export function emptySymbol(symbol: string): SymbolState {
  return { symbol, mark: null, markAtMs: null, ewma: null, holders: [] };
}

/**
 * The symbol after a mark at `atMs`, or "stale" when it is older than the current mark (equal
 * times are accepted, in order). Every mark after the first adds one return.
 */
export function applyMark(state: SymbolState, mid: number, atMs: number, lambda: number): SymbolState | "stale" {
  if (state.markAtMs !== null && atMs < state.markAtMs) return "stale";
  const ewma = state.mark === null ? state.ewma : ewmaUpdate(state.ewma ?? undefined, logReturn(state.mark, mid), lambda);
  return { ...state, mark: mid, markAtMs: atMs, ewma };
}

/** The current view of a symbol (its latest applied mark), or undefined before its first. */
export function currentView(state: SymbolState | undefined): MarketView | undefined {
  if (state?.mark == null || state.markAtMs === null) return undefined;
  return { mark: state.mark, markValidFromMs: state.markAtMs, ewma: state.ewma ?? undefined };
}

/** Adds or removes an account from the holders. */
export function withHolder(state: SymbolState, account: string, holds: boolean): SymbolState {
  const has = state.holders.includes(account);
  if (has === holds) return state;
  const holders = holds ? [...state.holders, account].sort() : state.holders.filter((a) => a !== account);
  return { ...state, holders };
}
