/**
 * Scenario 3, written on the public job API as a user would: market ticks + reference data →
 * positions, exposure, VaR → limit breaches, delivered to trading systems (the webhook).
 *
 * Trades are keyed by account (the runtime repartitions if producers keyed otherwise); instruments,
 * FX rates and quotes are shared tables every task reads in full, writable only by the market-data
 * tenants the options name (another tenant's quote is refused onto "rejected" and moves nothing).
 * The engine's RiskOperator (a custom step) holds positions per account, versioned marks per
 * symbol and the watermarks: each trade is applied in event-time order and priced with the mark as
 * of its event time; marks-to-market follow the quotes (policy in the options).
 *
 * Outputs: "risk" (RiskSnapshot per trade, with the marks it used), "breaches" (LimitEvent breach /
 * cleared, also alerts), "mtm" (position and P&L per account and symbol), "rejected".
 */
import { FxRateSchema, InstrumentSchema, QuoteSchema, Side, TradeSchema } from "weir/events";
import { DEFAULT_MTM_POLICY, RiskOperator, limitsConfigSchema, mtmPolicySchema, riskStores, type LimitEvent, type RiskInput } from "weir/engine";
import { custom, defineJob, stream, table, z } from "weir/jobs";

export const riskOptions = z.strictObject({
  /** Per-account limits, in the reporting currency (USD). */
  limits: limitsConfigSchema.default({ default: { maxGrossExposure: 1_000_000, maxLoss: 25_000 } }),
  /** The tenants allowed to publish reference data and quotes (shared by every tenant's accounts). */
  marketDataTenants: z.array(z.string().min(1)).default(["demo"]),
  /** Marks-to-market: `per-quote`, every `interval` of event time, or `on-change` above a threshold. */
  markToMarket: mtmPolicySchema.default(DEFAULT_MTM_POLICY),
});

type RiskOptions = z.output<typeof riskOptions>;

function side(s: Side): "BUY" | "SELL" {
  if (s === Side.BUY) return "BUY";
  if (s === Side.SELL) return "SELL";
  throw new RangeError(`side must be BUY or SELL, got ${s}`);
}

const marketData = (o: RiskOptions) => o.marketDataTenants;

export default defineJob({
  name: "risk-limits",
  version: 1,
  description: "positions, exposure and VaR per account from trades and shared market data; limit breaches",
  options: riskOptions,
  inputs: {
    trades: stream(TradeSchema, { key: (t) => t.accountId }),
    instruments: table(InstrumentSchema, { key: (i) => i.symbol, scope: "shared", writers: marketData }),
    fx: table(FxRateSchema, { key: (f) => `${f.base}/${f.quote}`, scope: "shared", writers: marketData }),
    quotes: table(QuoteSchema, { key: (q) => q.symbol, scope: "shared", writers: marketData }),
  },
  idle: { afterMs: 30_000 },
  // Positions are per account: an account id is qualified with the trade's tenant, as its key is.
  map: (r): RiskInput => {
    switch (r.input) {
      case "trades":
        return {
          kind: "trade",
          tradeId: r.value.tradeId,
          accountId: `${r.tenant}/${r.value.accountId}`,
          symbol: r.value.symbol,
          side: side(r.value.side),
          quantity: r.value.quantity,
          price: r.value.price,
        };
      case "instruments":
        return {
          kind: "instrument",
          symbol: r.value.symbol,
          sector: r.value.sector,
          currency: r.value.currency,
          contractMultiplier: r.value.contractMultiplier,
        };
      case "fx":
        return { kind: "fx", base: r.value.base, quote: r.value.quote, rate: r.value.rate };
      case "quotes":
        // Each quote partition's event time is its own: one that is behind holds back the trades it may reprice.
        return { kind: "quote", symbol: r.value.symbol, bid: r.value.bid, ask: r.value.ask, ...(r.source ? { source: r.source } : {}) };
    }
  },
  step: ({ options }) =>
    custom(
      ["risk", "breaches", "mtm", "rejected"],
      (stores, { tableSources }) =>
        new RiskOperator(riskStores(stores), {
          // A snapshot per trade feeds the dashboard's exposure table without one per quote and account.
          emitSnapshots: "trades",
          limits: options.limits,
          mtm: options.markToMarket,
          // Every quote partition holds the quotes' event time back until it has been heard from.
          quotes: { sources: tableSources("quotes") },
        }),
    ),
  outputs: {
    breaches: {
      alert: (e: LimitEvent) => {
        const limit = e.sector !== undefined ? `${e.limit}[${e.sector}]` : e.limit;
        return {
          id: `risk:${e.account}:${limit}:${e.type}:${e.atMs}`,
          kind: e.type,
          summary: `Risk limit ${e.type === "breach" ? "BREACHED" : "cleared"}: account ${e.account}, ${limit} = ${e.value.toFixed(2)} (limit ${e.threshold})`,
        };
      },
    },
  },
});
