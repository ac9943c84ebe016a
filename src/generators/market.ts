/**
 * A market feed (scenario 3): reference data (instruments, FX), random-walk quotes with bursts,
 * and trades of a few accounts at the current quotes.
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { QuoteSchema, Side, TradeSchema } from "../gen/weir/events/v1/market_pb.js";
import { FxRateSchema, InstrumentSchema } from "../gen/weir/events/v1/reference_pb.js";
import { envelopeOf } from "../client/envelope.js";
import type { Rng } from "./rng.js";

export const instruments = [
  { symbol: "AAPL", sector: "Technology", currency: "USD", contractMultiplier: 1, price: 190 },
  { symbol: "MSFT", sector: "Technology", currency: "USD", contractMultiplier: 1, price: 410 },
  { symbol: "JPM", sector: "Financials", currency: "USD", contractMultiplier: 1, price: 200 },
  { symbol: "SAP", sector: "Technology", currency: "EUR", contractMultiplier: 1, price: 180 },
  { symbol: "SHEL", sector: "Energy", currency: "GBP", contractMultiplier: 1, price: 27 },
];

export function referenceEvents(baseTimeMs: number): Envelope[] {
  const ref = instruments.map(({ price: _price, ...i }) =>
    envelopeOf(InstrumentSchema, i, { id: `instrument-${i.symbol}`, partitionKey: i.symbol, eventTimeMs: baseTimeMs }),
  );
  const fx = [
    { base: "EUR", quote: "USD", rate: 1.08 },
    { base: "GBP", quote: "USD", rate: 1.27 },
  ].map((r) => envelopeOf(FxRateSchema, r, { id: `fx-${r.base}${r.quote}-${baseTimeMs}`, partitionKey: `${r.base}${r.quote}`, eventTimeMs: baseTimeMs }));
  return [...ref, ...fx];
}

export type MarketFeed = { next(i: number): Envelope };

export function marketFeed(rng: Rng, baseTimeMs: number, accounts = 5): MarketFeed {
  const prices = new Map(instruments.map((i) => [i.symbol, i.price]));
  return {
    next(i) {
      const inst = rng.pick(instruments);
      const at = baseTimeMs + i * 5;
      // Random walk, with occasional bursts of volatility.
      const vol = rng.chance(0.02) ? 0.02 : 0.001;
      const mid = Math.max(0.01, prices.get(inst.symbol)! * (1 + (rng.next() - 0.5) * 2 * vol));
      prices.set(inst.symbol, mid);
      if (rng.chance(0.2)) {
        const account = `acct-${rng.int(1, accounts)}`;
        return envelopeOf(
          TradeSchema,
          {
            tradeId: `trade-${i}`,
            accountId: account,
            symbol: inst.symbol,
            side: rng.chance(0.5) ? Side.BUY : Side.SELL,
            quantity: rng.int(1, 500),
            price: mid,
          },
          // Keyed by account: the risk job keeps positions per account.
          { eventTimeMs: at, partitionKey: account },
        );
      }
      const spread = mid * 0.0005;
      return envelopeOf(
        QuoteSchema,
        { symbol: inst.symbol, bid: mid - spread, ask: mid + spread, bidSize: rng.int(100, 5000), askSize: rng.int(100, 5000), venue: "XNAS" },
        { eventTimeMs: at, partitionKey: inst.symbol },
      );
    },
  };
}
