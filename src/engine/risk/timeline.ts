/**
 * The risk job's event-time ordering: trades and quotes arrive out of order (different topics and
 * partitions, disordered producers); this puts them back in order before they touch positions.
 *
 * - Quotes go into the versioned marks table as they arrive (in any order: a version is valid
 *   from its quote's event time). Once the quote table's watermark (bounded out-of-orderness over
 *   its sources) passes them they are released, per symbol in event-time order, to move the
 *   symbol's current mark and EWMA returns and revalue its holders.
 * - Trades wait per account (an EventTimeGate) until BOTH the trade stream's own watermark and the
 *   quote table's have passed them: the trade watermark reaching t means the account's earlier
 *   trades are in; the quote table's passing t (strictly: a quote AT t is still on time at
 *   watermark t) means every quote up to t is in the table, so the mark as of t is final.
 * - `release()` returns what passed, merged in event-time order (a quote before a trade at the same
 *   time: the trade is priced with it; quotes of one time by symbol; trades by arrival).
 *
 * State: the two TableWatermarks ("progress"), the trade gate ("pendingTrades"), and per symbol
 * the earliest quote not yet released ("pendingQuotes").
 */
import { EventTimeGate, type GateEntry } from "../tables/event-time-gate.js";
import { TableWatermark, type TableWatermarkState } from "../tables/table-watermark.js";
import type { VersionedTable } from "../tables/versioned-table.js";
import type { KeyValueStore } from "../types.js";
import type { TradeInput } from "./positions.js";

/** Per symbol, the event time of its earliest quote in the table not released yet. */
export type PendingQuotes = Readonly<Record<string, number>>;

export type RiskTimelineStores = {
  readonly progress: KeyValueStore<TableWatermarkState>;
  readonly pendingTrades: KeyValueStore<GateEntry<TradeInput>>;
  readonly pendingQuotes: KeyValueStore<PendingQuotes>;
};

export type RiskTimelineOptions = {
  readonly tradeMaxOutOfOrdernessMs: number;
  readonly maxWaitingTradesPerAccount: number;
  readonly quoteMaxOutOfOrdernessMs: number;
  /** Quote sources expected from the start (e.g. every partition of the quote topic). */
  readonly quoteSources: readonly string[];
};

export type TimelineEvent =
  | { readonly kind: "quote"; readonly symbol: string; readonly mid: number; readonly timestampMs: number }
  | { readonly kind: "trade"; readonly trade: TradeInput; readonly timestampMs: number; readonly early?: true };

export type TradeOffer =
  /** Waiting for the watermarks; `early` are older trades of the account pushed out by the cap (apply them now). */
  | { readonly kind: "waiting"; readonly early: readonly TimelineEvent[] }
  /** Older than a trade already applied for the account: cannot be put in order any more. */
  | { readonly kind: "late"; readonly appliedToMs: number };

/** Source name of trades (a task reads one partition) and of quotes that do not say theirs. */
export const TRADES_SOURCE = "trades";
export const DEFAULT_QUOTES_SOURCE = "quotes";

const PENDING_KEY = "symbols";

type QuoteEvent = Extract<TimelineEvent, { kind: "quote" }>;

function byTimeThenSymbol(a: QuoteEvent, b: QuoteEvent): number {
  return a.timestampMs - b.timestampMs || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);
}

export class RiskTimeline {
  readonly tradeWatermark: TableWatermark;
  readonly quoteWatermark: TableWatermark;
  private readonly trades: EventTimeGate<TradeInput>;

  constructor(
    private readonly stores: RiskTimelineStores,
    private readonly marks: VersionedTable<number>,
    options: RiskTimelineOptions,
  ) {
    this.tradeWatermark = new TableWatermark(stores.progress, "trades", { maxOutOfOrdernessMs: options.tradeMaxOutOfOrdernessMs });
    this.quoteWatermark = new TableWatermark(stores.progress, "quotes", {
      maxOutOfOrdernessMs: options.quoteMaxOutOfOrdernessMs,
      sources: options.quoteSources,
    });
    this.trades = new EventTimeGate(stores.pendingTrades, { maxPerKey: options.maxWaitingTradesPerAccount });
  }

  /** The event time up to which both inputs are complete: min of the two watermarks. */
  get frontierMs(): number {
    return Math.min(this.tradeWatermark.watermarkMs, this.quoteWatermark.watermarkMs);
  }

  offerTrade(trade: TradeInput, timestampMs: number): TradeOffer {
    this.tradeWatermark.observe(TRADES_SOURCE, timestampMs);
    const r = this.trades.offer(trade.accountId, trade, timestampMs);
    if (!r.accepted) return { kind: "late", appliedToMs: r.releasedToMs };
    const early: TimelineEvent[] = [];
    for (const e of r.early) early.push({ kind: "trade", trade: e.value, timestampMs: e.timestampMs, early: true });
    return { kind: "waiting", early };
  }

  /**
   * A quote (its mid) for the table. The caller has checked it is not older than the symbol's
   * current mark. False when the table refused it (older than the history it keeps).
   */
  offerQuote(symbol: string, mid: number, timestampMs: number, source = DEFAULT_QUOTES_SOURCE): boolean {
    this.quoteWatermark.observe(source, timestampMs);
    if (this.marks.put(symbol, mid, timestampMs) === "refused") return false;
    const pending = this.pending();
    const earliest = pending[symbol];
    if (earliest === undefined || timestampMs < earliest) this.stores.pendingQuotes.put(PENDING_KEY, { ...pending, [symbol]: timestampMs });
    return true;
  }

  /** Moves both watermarks to at least `watermarkMs` (end of input, or an idle policy). */
  advanceTo(watermarkMs: number): void {
    this.tradeWatermark.advanceTo(watermarkMs);
    this.quoteWatermark.advanceTo(watermarkMs);
  }

  /** The trades alone have reached `watermarkMs` (every source of a repartitioned input); quotes keep their own watermark. */
  advanceTradesTo(watermarkMs: number): void {
    this.tradeWatermark.advanceTo(watermarkMs);
  }

  /**
   * Everything the watermarks have passed, in (event time, quote before trade, symbol / arrival)
   * order, and the frontier (both inputs complete up to there).
   */
  release(): { readonly events: readonly TimelineEvent[]; readonly frontierMs: number } {
    const quoteWm = this.quoteWatermark.watermarkMs;
    const tradeWm = this.tradeWatermark.watermarkMs;
    const frontierMs = Math.min(quoteWm, tradeWm);
    const quotes = this.releaseQuotes(quoteWm);
    // Trades: at or before their own watermark, and strictly before the quote table's.
    const trades = tradeWm < quoteWm ? this.trades.release(tradeWm, true) : this.trades.release(quoteWm, false);
    if (trades.length === 0) return { events: quotes, frontierMs };
    const events: TimelineEvent[] = [];
    let q = 0;
    for (const t of trades) {
      while (q < quotes.length && quotes[q]!.timestampMs <= t.timestampMs) events.push(quotes[q++]!);
      events.push({ kind: "trade", trade: t.value, timestampMs: t.timestampMs });
    }
    while (q < quotes.length) events.push(quotes[q++]!);
    return { events, frontierMs };
  }

  stats(): {
    readonly tradeWatermarkMs: number;
    readonly quoteWatermarkMs: number;
    readonly waitingAccounts: number;
    readonly tradesReleasedEarly: number;
    readonly lateTrades: number;
    readonly quotesBehindWatermark: number;
  } {
    const t = this.trades.stats();
    return {
      tradeWatermarkMs: this.tradeWatermark.watermarkMs,
      quoteWatermarkMs: this.quoteWatermark.watermarkMs,
      waitingAccounts: t.waitingKeys,
      tradesReleasedEarly: t.releasedEarly,
      lateTrades: t.lateCount,
      quotesBehindWatermark: this.quoteWatermark.lateCount,
    };
  }

  private pending(): PendingQuotes {
    return this.stores.pendingQuotes.get(PENDING_KEY) ?? {};
  }

  /** The table's versions each symbol has up to the watermark and not released yet, ordered by (time, symbol). */
  private releaseQuotes(quoteWm: number): QuoteEvent[] {
    const pending = this.stores.pendingQuotes.get(PENDING_KEY);
    if (pending === undefined) return [];
    let next: Record<string, number> | undefined;
    const out: QuoteEvent[] = [];
    for (const symbol in pending) {
      const from = pending[symbol]!;
      if (from > quoteWm) continue;
      const released = this.marks.range(symbol, from, quoteWm);
      for (const v of released) out.push({ kind: "quote", symbol, mid: v.value, timestampMs: v.validFromMs });
      next ??= { ...pending };
      // The next version after the watermark, if any, is the symbol's earliest pending one.
      const after =
        released.length > 0
          ? released[released.length - 1]!.validToMs
          : (this.marks.versions(symbol).find((v) => v.validFromMs > quoteWm)?.validFromMs ?? null);
      if (after !== null) next[symbol] = after;
      else delete next[symbol];
    }
    if (next === undefined) return out;
    this.stores.pendingQuotes.put(PENDING_KEY, next);
    return out.length > 1 ? out.sort(byTimeThenSymbol) : out;
  }
}
