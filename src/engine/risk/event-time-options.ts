/**
 * The risk job's event-time settings: how out of order trades and quotes may arrive, how much
 * may wait, how much mark history is kept, and when marks-to-market are emitted. Plain JSON
 * (they travel to worker threads), checked once by a schema; unset fields take the defaults.
 */
import { z } from "zod";
import { DEFAULT_MTM_POLICY, mtmPolicySchema, type MtmPolicy } from "./mtm.js";

const ms = z.number().min(0).finite();
const count = z.number().int().min(1);

export const riskTradesOptionsSchema = z.strictObject({
  /** How far behind the latest trade seen a trade may arrive and still be applied in order (default 1000). */
  maxOutOfOrdernessMs: ms.optional(),
  /** Trades waiting per account before the oldest is applied early (default 10_000). */
  maxWaitingPerAccount: count.optional(),
});

export const riskQuotesOptionsSchema = z.strictObject({
  /** How far behind its source's latest quote a quote may arrive (default 1000). */
  maxOutOfOrdernessMs: ms.optional(),
  /**
   * Quote sources to wait for from the start (e.g. every "topic/partition" of the quote topic), when
   * quote inputs carry `source`; default none: sources join as they are first seen.
   */
  sources: z.array(z.string()).readonly().optional(),
  /** Mark history kept behind the point both inputs have reached, for trades that come late (default 1000). */
  historyMs: ms.optional(),
  /** At most this many marks per symbol, those not yet passed by the watermark included (default 1000). */
  maxVersions: count.optional(),
});

export type RiskTradesOptions = z.output<typeof riskTradesOptionsSchema>;
export type RiskQuotesOptions = z.output<typeof riskQuotesOptionsSchema>;

export type ResolvedEventTimeOptions = {
  readonly tradeMaxOutOfOrdernessMs: number;
  readonly maxWaitingTradesPerAccount: number;
  readonly quoteMaxOutOfOrdernessMs: number;
  readonly quoteSources: readonly string[];
  readonly markHistoryMs: number;
  readonly maxMarkVersions: number;
  readonly mtm: MtmPolicy;
};

export const eventTimeDefaults = Object.freeze({
  tradeMaxOutOfOrdernessMs: 1000,
  maxWaitingTradesPerAccount: 10_000,
  quoteMaxOutOfOrdernessMs: 1000,
  markHistoryMs: 1000,
  maxMarkVersions: 1000,
});

/** Checks and resolves the settings; throws a RangeError naming the bad field. */
export function resolveEventTimeOptions(options: { trades?: unknown; quotes?: unknown; mtm?: unknown }): ResolvedEventTimeOptions {
  const parse = <T>(schema: z.ZodType<T>, value: unknown, name: string): T => {
    const r = schema.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new RangeError(`risk option ${[name, ...issue.path.map(String)].join(".")}: ${issue.message}`);
    }
    return r.data;
  };
  const trades = parse(riskTradesOptionsSchema, options.trades ?? {}, "trades");
  const quotes = parse(riskQuotesOptionsSchema, options.quotes ?? {}, "quotes");
  const mtm = options.mtm === undefined ? DEFAULT_MTM_POLICY : parse(mtmPolicySchema, options.mtm, "mtm");
  const d = eventTimeDefaults;
  return {
    tradeMaxOutOfOrdernessMs: trades.maxOutOfOrdernessMs ?? d.tradeMaxOutOfOrdernessMs,
    maxWaitingTradesPerAccount: trades.maxWaitingPerAccount ?? d.maxWaitingTradesPerAccount,
    quoteMaxOutOfOrdernessMs: quotes.maxOutOfOrdernessMs ?? d.quoteMaxOutOfOrdernessMs,
    quoteSources: quotes.sources ?? [],
    markHistoryMs: quotes.historyMs ?? d.markHistoryMs,
    maxMarkVersions: quotes.maxVersions ?? d.maxMarkVersions,
    mtm,
  };
}
