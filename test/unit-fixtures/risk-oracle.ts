/**
 * An independent calculation of the risk job's figures, sharing no code with the engine: sort by
 * event time and replay. Marks are quote mids valid from their event time; positions are
 * average-cost books (buys and sells in the position's direction re-average, against it realise,
 * a flip reopens at the price); values are in USD through the instrument's contract multiplier and
 * the FX rates of the generator's reference data.
 */
import { instruments } from "../../src/generators/market.js";

export const FX: Readonly<Record<string, number>> = { USD: 1, EUR: 1.08, GBP: 1.27 }; // referenceEvents' rates

export type OracleQuote = { readonly symbol: string; readonly bid: number; readonly ask: number; readonly timestampMs: number };
export type OracleTrade = {
  readonly accountId: string;
  readonly symbol: string;
  readonly side: "BUY" | "SELL";
  readonly quantity: number;
  readonly price: number;
  readonly timestampMs: number;
};

export type Mark = { readonly t: number; readonly mid: number };

export function markHistory(quotes: readonly OracleQuote[]): Map<string, Mark[]> {
  const bySymbol = new Map<string, Mark[]>();
  for (const q of [...quotes].sort((a, b) => a.timestampMs - b.timestampMs)) {
    const list = bySymbol.get(q.symbol) ?? [];
    list.push({ t: q.timestampMs, mid: (q.bid + q.ask) / 2 });
    bySymbol.set(q.symbol, list);
  }
  return bySymbol;
}

export function markAsOf(history: Map<string, Mark[]>, symbol: string, t: number): Mark | undefined {
  let found: Mark | undefined;
  for (const m of history.get(symbol) ?? []) {
    if (m.t > t) break;
    found = m;
  }
  return found;
}

export type Book = { qty: number; avg: number; realisedPoints: number };

/** Per "account|symbol": the average-cost book after every trade, replayed in event-time order. */
export function books(trades: readonly OracleTrade[]): Map<string, Book> {
  const out = new Map<string, Book>();
  for (const t of [...trades].sort((a, b) => a.timestampMs - b.timestampMs)) {
    const key = `${t.accountId}|${t.symbol}`;
    const b = out.get(key) ?? { qty: 0, avg: 0, realisedPoints: 0 };
    const signed = t.side === "BUY" ? t.quantity : -t.quantity;
    if (b.qty === 0 || b.qty > 0 === signed > 0) {
      b.avg = (Math.abs(b.qty) * b.avg + t.quantity * t.price) / Math.abs(b.qty + signed);
      b.qty += signed;
    } else {
      const closing = Math.min(t.quantity, Math.abs(b.qty));
      b.realisedPoints += (b.qty > 0 ? 1 : -1) * closing * (t.price - b.avg);
      const left = b.qty + signed;
      if (left === 0) b.avg = 0;
      else if (left > 0 !== b.qty > 0) b.avg = t.price;
      b.qty = left;
    }
    out.set(key, b);
  }
  return out;
}

/** A book's final figures in USD at `mark`. */
export function finalFigures(symbol: string, b: Book, mark: number): { marketValue: number; realisedPnl: number; unrealisedPnl: number } {
  const inst = instruments.find((i) => i.symbol === symbol)!;
  const scale = inst.contractMultiplier * FX[inst.currency]!;
  return { marketValue: b.qty * mark * scale, realisedPnl: b.realisedPoints * scale, unrealisedPnl: (mark - b.avg) * b.qty * scale };
}

export function relErr(got: number | null, want: number): number {
  if (got === null) return Number.POSITIVE_INFINITY;
  return Math.abs(got - want) / Math.max(1, Math.abs(want));
}
