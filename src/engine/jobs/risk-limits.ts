/**
 * Scenario job "risk limit breaches": reference data (instruments, FX) as a table, positions from
 * trades, versioned marks and EWMA volatility from quotes, per-account limits that emit breach and
 * cleared events, and marks-to-market per position.
 *
 * Event time: trades and quotes arrive out of order. Quotes are applied per symbol in event-time
 * order once the quote table's watermark passes them; trades per account in event-time order once
 * both the trade stream's watermark and the quote table's have passed them (risk/timeline.ts), and
 * a trade is priced with the marks AS OF its event time (a VersionedTable of marks), not the
 * latest. Reference data is a latest-wins table in arrival order, as compaction keeps it.
 *
 * Input: RiskInput records (see risk/input.ts for keys and partitioning). Output streams:
 * - "breaches": LimitEvent `{ type: "breach" | "cleared", account, limit, sector?, value, threshold, atMs }`,
 *   keyed by account; one breach when a limit is first crossed, one cleared when it goes back under.
 *   Limits see the account's applied trades valued at the latest applied marks; `atMs` is the event
 *   time of that valuation (the trade or quote applied, or the reference record).
 * - "risk" (only with `emitSnapshots`): a RiskSnapshot per applied trade ("trades"), or for every
 *   account an applied record affects (true). A trade's snapshot is the account as of the trade's
 *   event time, with `marks` saying which mark, valid from when, each position was valued with.
 * - "mtm": MtmUpdate per (account, symbol), as the `mtm` policy says (see risk/mtm.ts); every
 *   advanceWatermark also emits each position whose figures differ from the last emitted ones.
 * - "rejected": invalid or stale input, keyed by the record key, with the reason.
 * All state is plain JSON in the stores of RiskStores.
 */
import { MemoryStore, type Emitter, type EngineRecord, type KeyValueStore, type Operator, type StoreProvider } from "../types.js";
import type { GateEntry } from "../tables/event-time-gate.js";
import type { TableWatermarkState } from "../tables/table-watermark.js";
import { VersionedTable, type VersionedEntry } from "../tables/versioned-table.js";
import { accountRisk, emptyAccount, type AccountRisk, type AccountState } from "../risk/account-risk.js";
import { resolveEventTimeOptions, type ResolvedEventTimeOptions, type RiskQuotesOptions, type RiskTradesOptions } from "../risk/event-time-options.js";
import type { RiskInput } from "../risk/input.js";
import { limitsFor, limitTransitions, measureLimits, validateLimits, type LimitEvent, type LimitsConfig } from "../risk/limits.js";
import { applyMark, currentView, emptySymbol, withHolder, type MarketLookup, type SymbolState } from "../risk/market.js";
import { movedEnough, mtmFigures, mtmUpdate, sameFigures, type MtmPolicy, type MtmUpdate } from "../risk/mtm.js";
import { applyTrade, emptyPosition, invalidQuote, invalidTrade, mid, type PositionState, type TradeInput } from "../risk/positions.js";
import { invalidFx, invalidInstrument, ReferenceTable, type ReferenceEntry } from "../risk/reference-table.js";
import { RiskTimeline, type PendingQuotes, type TimelineEvent } from "../risk/timeline.js";
import { VarModel, type VarOptions } from "../risk/var.js";

/** Where the operator is in event time (one entry, key "clock"). */
export type RiskClock = {
  /** Event time of the latest trade or quote applied in order; null before any. */
  readonly clockMs: number | null;
  /** Both inputs complete up to here as of the last step: the marks' history bound follows it. */
  readonly frontierMs: number | null;
  /** The next multiple of the mtm interval not yet emitted (interval policy). */
  readonly nextBoundaryMs: number | null;
};

export type RiskStores = {
  readonly reference: KeyValueStore<ReferenceEntry>;
  readonly accounts: KeyValueStore<AccountState>;
  readonly symbols: KeyValueStore<SymbolState>;
  /** Versioned marks (quote mids) per symbol. */
  readonly marks: KeyValueStore<VersionedEntry<number>>;
  /** The trade and quote watermarks. */
  readonly progress: KeyValueStore<TableWatermarkState>;
  readonly pendingTrades: KeyValueStore<GateEntry<TradeInput>>;
  readonly pendingQuotes: KeyValueStore<PendingQuotes>;
  readonly clock: KeyValueStore<RiskClock>;
};

export const RISK_STORE_NAMES = ["reference", "accounts", "symbols", "marks", "progress", "pendingTrades", "pendingQuotes", "clock"] as const;

/** The operator's stores from a runtime's (or EngineTestDriver's) provider, by their names. */
export function riskStores(provider: StoreProvider): RiskStores {
  return {
    reference: provider.store("reference"),
    accounts: provider.store("accounts"),
    symbols: provider.store("symbols"),
    marks: provider.store("marks"),
    progress: provider.store("progress"),
    pendingTrades: provider.store("pendingTrades"),
    pendingQuotes: provider.store("pendingQuotes"),
    clock: provider.store("clock"),
  };
}

export type MemoryRiskStores = { [K in keyof RiskStores]: RiskStores[K] extends KeyValueStore<infer S> ? MemoryStore<S> : never };

export function memoryRiskStores(): MemoryRiskStores {
  return {
    reference: new MemoryStore(),
    accounts: new MemoryStore(),
    symbols: new MemoryStore(),
    marks: new MemoryStore(),
    progress: new MemoryStore(),
    pendingTrades: new MemoryStore(),
    pendingQuotes: new MemoryStore(),
    clock: new MemoryStore(),
  };
}

export type RiskOperatorOptions = {
  /** Default "USD". */
  readonly reportingCurrency?: string;
  /** One-hop cross rates go through this currency (default "USD"). */
  readonly pivotCurrency?: string;
  readonly var?: VarOptions;
  readonly limits?: LimitsConfig;
  /**
   * Emit a RiskSnapshot on stream "risk": for each account an applied record affects (true), only
   * for the account of each applied trade ("trades": one snapshot per trade, however fast quotes
   * move), or never (false, the default).
   */
  readonly emitSnapshots?: boolean | "trades";
  /** Ordering of trades (see risk/event-time-options.ts). */
  readonly trades?: RiskTradesOptions;
  /** Ordering of quotes and the marks' history. */
  readonly quotes?: RiskQuotesOptions;
  /** When marks-to-market are emitted (default: every 1000 ms of event time, for positions that changed). */
  readonly mtm?: MtmPolicy;
};

/**
 * An account's risk. A trade's snapshot carries its `tradeId`; `ordering` says when it could not be
 * valued strictly as of its time: "late" (an account's trade older than one already applied: applied
 * out of order) or "early" (applied before the watermarks passed it, because too many were waiting).
 */
export type RiskSnapshot = {
  readonly type: "risk";
  readonly atMs: number;
  readonly tradeId?: string;
  readonly ordering?: "late" | "early";
} & AccountRisk;

export type RejectedInput = {
  readonly type: "rejected";
  readonly kind: string;
  readonly key: string;
  readonly reason: string;
  readonly atMs: number;
};

export type RiskOutput = LimitEvent | RiskSnapshot | RejectedInput | MtmUpdate;

export const BREACHES_STREAM = "breaches";
export const RISK_STREAM = "risk";
export const REJECTED_STREAM = "rejected";
export const MTM_STREAM = "mtm";

const CLOCK_KEY = "clock";
const START: RiskClock = Object.freeze({ clockMs: null, frontierMs: null, nextBoundaryMs: null });

export class RiskOperator implements Operator<RiskInput, RiskOutput> {
  private readonly reference: ReferenceTable;
  private readonly model: VarModel;
  private readonly limits: LimitsConfig;
  private readonly emitSnapshots: boolean | "trades";
  private readonly timing: ResolvedEventTimeOptions;
  private readonly timeline: RiskTimeline;
  private readonly marks: VersionedTable<number>;
  private clockState: RiskClock | undefined;

  constructor(
    private readonly stores: RiskStores,
    options: RiskOperatorOptions = {},
  ) {
    this.reference = new ReferenceTable(stores.reference, {
      ...(options.reportingCurrency !== undefined ? { reportingCurrency: options.reportingCurrency } : {}),
      ...(options.pivotCurrency !== undefined ? { pivotCurrency: options.pivotCurrency } : {}),
    });
    this.model = new VarModel(options.var);
    this.limits = options.limits ?? {};
    validateLimits(this.limits);
    this.emitSnapshots = options.emitSnapshots ?? false;
    this.timing = resolveEventTimeOptions(options);
    this.marks = new VersionedTable(stores.marks, {
      historyMs: this.timing.markHistoryMs,
      maxVersions: this.timing.maxMarkVersions,
      watermark: () => this.clock().frontierMs ?? Number.NEGATIVE_INFINITY,
    });
    this.timeline = new RiskTimeline(stores, this.marks, this.timing);
  }

  process(record: EngineRecord<RiskInput>, out: Emitter<RiskOutput>): void {
    const v = record.value;
    const atMs = record.timestampMs;

    switch (v?.kind) {
      case "instrument": {
        const why = invalidInstrument(v);
        if (why !== undefined) return this.reject(record, why, out);
        this.reference.upsertInstrument(v, atMs);
        return this.evaluateAll(atMs, out);
      }
      case "fx": {
        const why = invalidFx(v);
        if (why !== undefined) return this.reject(record, why, out);
        this.reference.upsertFx(v, atMs);
        return this.evaluateAll(atMs, out);
      }
      case "trade": {
        const why = invalidTrade(v);
        if (why !== undefined) return this.reject(record, why, out);
        const { kind: _kind, ...trade } = v;
        const offer = this.timeline.offerTrade(trade, atMs);
        if (offer.kind === "late") this.applyTrade(trade, atMs, out, "late");
        else for (const e of offer.early) this.apply(e, out);
        return this.step(out);
      }
      case "quote": {
        const why = invalidQuote(v);
        if (why !== undefined) return this.reject(record, why, out);
        const markAtMs = this.stores.symbols.get(v.symbol)?.markAtMs ?? null;
        if (markAtMs !== null && atMs < markAtMs) return this.reject(record, `stale quote: older than the current mark at ${markAtMs}`, out);
        if (!this.timeline.offerQuote(v.symbol, mid(v.bid, v.ask), atMs, v.source))
          return this.reject(record, "stale quote: older than the mark history kept", out);
        return this.step(out);
      }
      default:
        return this.reject(record, "unknown input kind", out);
    }
  }

  private reject(record: EngineRecord<RiskInput>, reason: string, out: Emitter<RiskOutput>): void {
    const atMs = record.timestampMs;
    out.emit(REJECTED_STREAM, record.key, { type: "rejected", kind: String(record.value?.kind), key: record.key, reason, atMs }, atMs);
  }

  /**
   * Event time has reached `watermarkMs` on both inputs (end of input, or an idle policy): applies
   * what that releases, then emits a mark-to-market for every position whose figures changed
   * since its last one.
   */
  advanceWatermark(watermarkMs: number, out: Emitter<RiskOutput>): void {
    this.timeline.advanceTo(watermarkMs);
    this.step(out);
    const clock = this.clock();
    this.emitChangedMtm(clock.clockMs ?? Math.min(watermarkMs, Number.MAX_SAFE_INTEGER), out);
  }

  /**
   * The trades have reached `eventTimeMs` on every source partition (a repartitioned input's
   * watermark markers): trades up to there may be applied as soon as the quotes have passed them;
   * the quotes' watermark is theirs alone, so a quote partition that is behind still holds back
   * the trades it may reprice.
   */
  advanceStreamTime(eventTimeMs: number, out: Emitter<RiskOutput>): void {
    this.timeline.advanceTradesTo(eventTimeMs);
    this.step(out);
  }

  /** Current risk figures of an account: applied trades at the latest applied marks (a query; changes nothing). */
  risk(account: string): AccountRisk {
    return this.valued(this.stores.accounts.get(account) ?? emptyAccount(account), this.latestMarks);
  }

  /** Watermarks, waiting records and what could not be applied in order. */
  stats(): ReturnType<RiskTimeline["stats"]> & { readonly clockMs: number | null } {
    return { ...this.timeline.stats(), clockMs: this.clock().clockMs };
  }

  /** Applies what the watermarks released, in event-time order. */
  private step(out: Emitter<RiskOutput>): void {
    const { events, frontierMs } = this.timeline.release();
    for (const e of events) this.apply(e, out);
    const clock = this.clock();
    if (frontierMs > Number.NEGATIVE_INFINITY && frontierMs !== clock.frontierMs) this.setClock({ ...clock, frontierMs });
  }

  private apply(e: TimelineEvent, out: Emitter<RiskOutput>): void {
    this.crossIntervals(e.timestampMs, out);
    if (e.kind === "quote") this.applyQuote(e.symbol, e.mid, e.timestampMs, out);
    else this.applyTrade(e.trade, e.timestampMs, out, e.early ? "early" : undefined);
  }

  private applyQuote(symbol: string, mid: number, atMs: number, out: Emitter<RiskOutput>): void {
    const next = applyMark(this.stores.symbols.get(symbol) ?? emptySymbol(symbol), mid, atMs, this.model.lambda);
    if (next === "stale") return; // released in order per symbol: cannot happen
    this.stores.symbols.put(symbol, next);
    const nowMs = this.tick(atMs);
    for (const account of next.holders) {
      this.evaluate(account, nowMs, out);
      this.mtmOnEvent(account, symbol, nowMs, out);
    }
  }

  private applyTrade(trade: TradeInput, atMs: number, out: Emitter<RiskOutput>, ordering?: "late" | "early"): void {
    const account = this.stores.accounts.get(trade.accountId) ?? emptyAccount(trade.accountId);
    const before = account.positions.find((p) => p.symbol === trade.symbol) ?? emptyPosition(trade.symbol);
    const after = applyTrade(before, trade);
    const positions: PositionState[] = [...account.positions.filter((p) => p.symbol !== trade.symbol), after].sort((a, b) =>
      a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0,
    );
    const state = { ...account, positions };
    this.stores.accounts.put(trade.accountId, state);
    const sym = this.stores.symbols.get(trade.symbol);
    const withH = withHolder(sym ?? emptySymbol(trade.symbol), trade.accountId, after.quantity !== 0);
    if (sym === undefined || withH !== sym) this.stores.symbols.put(trade.symbol, withH);

    // A late trade does not move the clock: it belongs before what was applied already.
    const nowMs = ordering === "late" ? (this.clock().clockMs ?? atMs) : this.tick(atMs);
    // The snapshot is as of the trade; limits look at the latest marks (the same when the clock is at the trade).
    const asOfTrade = this.emitSnapshots !== false || nowMs === atMs ? this.valued(state, this.marksAsOf(atMs)) : undefined;
    const current = nowMs === atMs ? asOfTrade! : this.valued(state, this.latestMarks);
    this.evaluate(trade.accountId, nowMs, out, current);
    if (asOfTrade !== undefined && this.emitSnapshots !== false) {
      const snapshot: RiskSnapshot = { type: "risk", atMs, tradeId: trade.tradeId, ...(ordering ? { ordering } : {}), ...asOfTrade };
      out.emit(RISK_STREAM, trade.accountId, snapshot, atMs);
    }
    this.mtmOnEvent(trade.accountId, trade.symbol, nowMs, out);
  }

  private evaluateAll(atMs: number, out: Emitter<RiskOutput>): void {
    const accounts = [...this.stores.accounts.entries()].map(([k]) => k);
    for (const account of accounts) this.evaluate(account, atMs, out);
  }

  /**
   * Measures the account's limits on `risk` (default: its current figures) and emits the
   * transitions; with emitSnapshots true and no trade-specific snapshot, the current snapshot too.
   */
  private evaluate(account: string, atMs: number, out: Emitter<RiskOutput>, given?: AccountRisk): void {
    const state = this.stores.accounts.get(account) ?? emptyAccount(account);
    const risk = given ?? this.valued(state, this.latestMarks);
    const measurements = measureLimits(
      limitsFor(this.limits, account),
      { grossExposure: risk.grossExposure, sectors: risk.sectors, var: risk.var, totalPnl: risk.totalPnl },
      state.breached,
    );
    const { events, breached } = limitTransitions(account, state.breached, measurements, atMs);
    if (events.length > 0) this.stores.accounts.put(account, { ...state, breached });
    for (const e of events) out.emit(BREACHES_STREAM, account, e, atMs);
    if (this.emitSnapshots === true && given === undefined) out.emit(RISK_STREAM, account, { type: "risk", atMs, ...risk }, atMs);
  }

  // --- marks-to-market ---

  /** After a trade or quote touched (account, symbol): the per-quote and on-change policies. */
  private mtmOnEvent(account: string, symbol: string, asOfMs: number, out: Emitter<RiskOutput>): void {
    const policy = this.timing.mtm;
    if (policy.emit === "interval") return;
    const state = this.stores.accounts.get(account);
    const position = state?.positions.find((p) => p.symbol === symbol);
    if (state === undefined || position === undefined) return;
    const next = this.figures(position);
    const last = state.mtm?.[symbol];
    if (policy.emit === "per-quote" || movedEnough(policy, last, next.figures)) this.emitMtm(state, position.symbol, next, asOfMs, out);
  }

  /** Interval policy: before applying an event at `atMs`, emits for each interval boundary it crosses. */
  private crossIntervals(atMs: number, out: Emitter<RiskOutput>): void {
    const policy = this.timing.mtm;
    if (policy.emit !== "interval") return;
    const clock = this.clock();
    const interval = policy.intervalMs;
    const next = Math.floor(atMs / interval) * interval + interval;
    if (clock.nextBoundaryMs === null || clock.nextBoundaryMs > atMs) {
      if (clock.nextBoundaryMs === null) this.setClock({ ...clock, nextBoundaryMs: next });
      return;
    }
    // The figures as they stood before this event, i.e. as of the boundary.
    this.emitChangedMtm(clock.clockMs ?? atMs, out);
    this.setClock({ ...this.clock(), nextBoundaryMs: next });
  }

  /** Emits every position whose current figures differ from the last emitted ones. */
  private emitChangedMtm(asOfMs: number, out: Emitter<RiskOutput>): void {
    for (const [, state] of this.stores.accounts.entries()) {
      let current = state;
      for (const position of state.positions) {
        const next = this.figures(position);
        if (!sameFigures(current.mtm?.[position.symbol], next.figures)) current = this.emitMtm(current, position.symbol, next, asOfMs, out);
      }
    }
  }

  private figures(position: PositionState): ReturnType<typeof mtmFigures> {
    const instrument = this.reference.instrument(position.symbol);
    const fx = instrument === undefined ? undefined : this.reference.rate(instrument.currency, this.reference.reportingCurrency);
    return mtmFigures(position, instrument, fx?.ok === true ? fx.rate : undefined, this.latestMarks(position.symbol));
  }

  private emitMtm(state: AccountState, symbol: string, next: ReturnType<typeof mtmFigures>, asOfMs: number, out: Emitter<RiskOutput>): AccountState {
    out.emit(MTM_STREAM, state.account, mtmUpdate(state.account, symbol, this.reference.reportingCurrency, asOfMs, next.figures, next.unvalued), asOfMs);
    const updated = { ...state, mtm: { ...state.mtm, [symbol]: next.figures } };
    this.stores.accounts.put(state.account, updated);
    return updated;
  }

  // --- valuation and clock ---

  private valued(state: AccountState, market: MarketLookup): AccountRisk {
    return accountRisk(state, this.reference, market, this.model);
  }

  /** The marks applied last (in event-time order), with the current volatility. */
  private readonly latestMarks: MarketLookup = (symbol) => currentView(this.stores.symbols.get(symbol));

  /**
   * The marks valid at `atMs` from the versioned table. Volatility is the current one: it moves by
   * a fraction of a return per quote, and it is as of `atMs` whenever trades keep up with quotes.
   */
  private marksAsOf(atMs: number): MarketLookup {
    return (symbol) => {
      const v = this.marks.versionAsOf(symbol, atMs);
      if (v === undefined) return undefined;
      return { mark: v.value, markValidFromMs: v.validFromMs, ewma: this.stores.symbols.get(symbol)?.ewma ?? undefined };
    };
  }

  /** The clock entry belongs to this operator: it keeps a copy of what it wrote. */
  private clock(): RiskClock {
    return (this.clockState ??= this.stores.clock.get(CLOCK_KEY) ?? START);
  }

  private setClock(clock: RiskClock): void {
    this.clockState = clock;
    this.stores.clock.put(CLOCK_KEY, clock);
  }

  /** Moves the clock to `atMs` if it is later; returns the clock. */
  private tick(atMs: number): number {
    const clock = this.clock();
    if (clock.clockMs !== null && clock.clockMs >= atMs) return clock.clockMs;
    this.setClock({ ...clock, clockMs: atMs });
    return atMs;
  }
}
