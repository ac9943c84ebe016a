/**
 * Positions from trades and their mark-to-market valuation. Pure functions over plain JSON state.
 *
 * Model:
 * - A position is a signed quantity (long > 0, short < 0) with an average cost in the instrument's
 *   price units. Adding in the same direction re-averages the cost; trading against the position
 *   realises (price − avgPrice) × closed quantity × sign; a flip closes the whole old position and
 *   opens the remainder at the trade price; going flat resets the average cost to 0.
 * - Realised P&L is kept in price points × quantity (no multiplier, no FX), so a trade is applied
 *   even when its instrument's reference data has not arrived yet. Valuation applies the
 *   instrument's current contract multiplier and the current FX rate: realised P&L is treated as a
 *   cash balance in the instrument's currency, revalued like any other balance in that currency.
 * - The mark is the mid of the latest quote, (bid + ask) / 2.
 */
import type { InstrumentRef } from "./reference-table.js";

export type Side = "BUY" | "SELL";

/** A trade as the engine sees it (mapped from weir.events.v1.Trade). */
export type TradeInput = {
  readonly tradeId: string;
  readonly accountId: string;
  readonly symbol: string;
  readonly side: Side;
  /** Unsigned, > 0. */
  readonly quantity: number;
  readonly price: number;
};

/** A quote as the engine sees it (mapped from weir.events.v1.Quote). */
export type QuoteInput = {
  readonly symbol: string;
  readonly bid: number;
  readonly ask: number;
};

/** Position of one account in one symbol (plain JSON). */
export type PositionState = {
  readonly symbol: string;
  /** Signed: > 0 long, < 0 short. */
  readonly quantity: number;
  /** Average cost in price units; 0 when flat. */
  readonly avgPrice: number;
  /** Σ closed quantity × (exit − entry) × direction, in price units (before multiplier and FX). */
  readonly realisedPoints: number;
  readonly tradeCount: number;
};

export function invalidTrade(t: TradeInput): string | undefined {
  if (typeof t.accountId !== "string" || t.accountId === "") return "trade accountId is empty";
  if (typeof t.symbol !== "string" || t.symbol === "") return "trade symbol is empty";
  if (t.side !== "BUY" && t.side !== "SELL") return "trade side must be BUY or SELL";
  if (!Number.isFinite(t.quantity) || t.quantity <= 0) return "trade quantity must be a finite number > 0";
  if (!Number.isFinite(t.price)) return "trade price must be finite";
  return undefined;
}

export function invalidQuote(q: QuoteInput): string | undefined {
  if (typeof q.symbol !== "string" || q.symbol === "") return "quote symbol is empty";
  if (!Number.isFinite(q.bid) || !Number.isFinite(q.ask) || q.bid <= 0 || q.ask <= 0) {
    return "quote bid and ask must be finite numbers > 0";
  }
  return undefined;
}

export function emptyPosition(symbol: string): PositionState {
  return { symbol, quantity: 0, avgPrice: 0, realisedPoints: 0, tradeCount: 0 };
}

/** (bid + ask) / 2. */
export function mid(bid: number, ask: number): number {
  return (bid + ask) / 2;
}

/** Quantities within this relative distance of zero after a reduction count as flat (float noise). */
const FLAT_EPSILON = 1e-12;

/** The position after one trade (pure; the input is not modified). */
export function applyTrade(position: PositionState, trade: Pick<TradeInput, "side" | "quantity" | "price">): PositionState {
  const q = position.quantity;
  const s = trade.side === "BUY" ? trade.quantity : -trade.quantity;
  const p = trade.price;
  const tradeCount = position.tradeCount + 1;

  if (q === 0 || Math.sign(q) === Math.sign(s)) {
    const newQty = q + s;
    const avgPrice = (Math.abs(q) * position.avgPrice + Math.abs(s) * p) / Math.abs(newQty);
    return { symbol: position.symbol, quantity: newQty, avgPrice, realisedPoints: position.realisedPoints, tradeCount };
  }

  const closed = Math.min(Math.abs(s), Math.abs(q));
  const realisedPoints = position.realisedPoints + closed * (p - position.avgPrice) * Math.sign(q);
  let newQty = q + s;
  if (Math.abs(newQty) <= FLAT_EPSILON * Math.max(Math.abs(q), Math.abs(s))) newQty = 0;
  let avgPrice: number;
  if (newQty === 0) avgPrice = 0;
  else if (Math.sign(newQty) !== Math.sign(q))
    avgPrice = p; // flipped: the remainder opened at p
  else avgPrice = position.avgPrice; // reduced: cost of what is left is unchanged
  return { symbol: position.symbol, quantity: newQty, avgPrice, realisedPoints, tradeCount };
}

/** Why a position cannot be valued (reported, never counted as zero). */
export type UnvaluedReason =
  | { readonly symbol: string; readonly reason: "unknown-instrument" }
  | { readonly symbol: string; readonly reason: "unknown-fx"; readonly currency: string }
  | { readonly symbol: string; readonly reason: "no-mark" };

/** A position valued in the reporting currency. */
export type ValuedPosition = {
  readonly symbol: string;
  readonly sector: string;
  readonly currency: string;
  readonly quantity: number;
  readonly avgPrice: number;
  /** Mid in price units, or null for a flat position that has never been marked. */
  readonly mark: number | null;
  /** Reporting-currency value of the position: quantity × mark × multiplier × fx (signed). */
  readonly exposure: number;
  /** (mark − avgPrice) × quantity × multiplier × fx. */
  readonly unrealisedPnl: number;
  /** realisedPoints × multiplier × fx. */
  readonly realisedPnl: number;
  /** Rate from the instrument's currency to the reporting currency. */
  readonly fxRate: number;
};

export type Valuation = ({ readonly ok: true } & ValuedPosition) | ({ readonly ok: false } & UnvaluedReason);

/**
 * Values a position. `fxRate` converts the instrument's currency into the reporting currency
 * (undefined = unknown). A flat position needs no mark (its exposure and unrealised P&L are 0).
 */
export function valuePosition(position: PositionState, instrument: InstrumentRef | undefined, fxRate: number | undefined, mark: number | undefined): Valuation {
  const symbol = position.symbol;
  if (instrument === undefined) return { ok: false, symbol, reason: "unknown-instrument" };
  if (fxRate === undefined) return { ok: false, symbol, reason: "unknown-fx", currency: instrument.currency };
  if (mark === undefined && position.quantity !== 0) return { ok: false, symbol, reason: "no-mark" };
  const scale = instrument.contractMultiplier * fxRate;
  const m = mark ?? null;
  const exposure = position.quantity === 0 || m === null ? 0 : position.quantity * m * scale;
  const unrealisedPnl = position.quantity === 0 || m === null ? 0 : (m - position.avgPrice) * position.quantity * scale;
  return {
    ok: true,
    symbol,
    sector: instrument.sector,
    currency: instrument.currency,
    quantity: position.quantity,
    avgPrice: position.avgPrice,
    mark: m,
    exposure,
    unrealisedPnl,
    realisedPnl: position.realisedPoints * scale,
    fxRate,
  };
}
