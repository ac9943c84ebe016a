/**
 * Per-symbol market state: the mark (mid of the latest quote), the EWMA volatility of log returns
 * between successive marks, and the accounts holding a non-flat position (so a quote revalues only
 * them). Plain JSON.
 */
import { mid, type QuoteInput } from "./positions.js";
import { ewmaUpdate, logReturn, type EwmaState } from "./var.js";

export type SymbolState = {
  readonly symbol: string;
  readonly mark: number | null;
  readonly markAtMs: number | null;
  readonly ewma: EwmaState | null;
  /** Accounts with a non-flat position in the symbol, sorted. */
  readonly holders: readonly string[];
};

export function emptySymbol(symbol: string): SymbolState {
  return { symbol, mark: null, markAtMs: null, ewma: null, holders: [] };
}

/**
 * The symbol after a quote, or "stale" when the quote is older than the current mark (event time;
 * equal times are accepted, in arrival order). Every accepted quote after the first adds one return.
 */
export function applyQuote(state: SymbolState, quote: QuoteInput, atMs: number, lambda: number): SymbolState | "stale" {
  if (state.markAtMs !== null && atMs < state.markAtMs) return "stale";
  const m = mid(quote.bid, quote.ask);
  const ewma = state.mark === null ? state.ewma : ewmaUpdate(state.ewma ?? undefined, logReturn(state.mark, m), lambda);
  return { ...state, mark: m, markAtMs: atMs, ewma };
}

/** Adds or removes an account from the holders. */
export function withHolder(state: SymbolState, account: string, holds: boolean): SymbolState {
  const has = state.holders.includes(account);
  if (has === holds) return state;
  const holders = holds ? [...state.holders, account].sort() : state.holders.filter((a) => a !== account);
  return { ...state, holders };
}
