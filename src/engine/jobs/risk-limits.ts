/**
 * Scenario job "risk limit breaches": reference data (instruments, FX) as a table, positions from
 * trades, marks and EWMA volatility from quotes, and per-account limits that emit breach and
 * cleared events.
 *
 * Input: RiskInput records (see risk/input.ts for keys and partitioning). Output streams:
 * - "breaches": LimitEvent `{ type: "breach" | "cleared", account, limit, sector?, value, threshold, atMs }`,
 *   keyed by account; one breach when a limit is first crossed, one cleared when it goes back under.
 * - "risk" (only with `emitSnapshots`): the account's RiskSnapshot each time a record changes
 *   something that feeds its figures (its trade, a quote of a symbol it holds, any reference update).
 * - "rejected": invalid or stale input, keyed by the record key, with the reason.
 * Every output carries the input record's timestamp. All state is plain JSON in three stores.
 */
import { MemoryStore, type Emitter, type EngineRecord, type KeyValueStore, type Operator } from "../types.js";
import { accountRisk, emptyAccount, type AccountRisk, type AccountState } from "../risk/account-risk.js";
import type { RiskInput } from "../risk/input.js";
import { limitsFor, limitTransitions, measureLimits, validateLimits, type LimitEvent, type LimitsConfig } from "../risk/limits.js";
import { applyQuote, emptySymbol, withHolder, type SymbolState } from "../risk/market.js";
import { applyTrade, emptyPosition, invalidQuote, invalidTrade, type PositionState } from "../risk/positions.js";
import { invalidFx, invalidInstrument, ReferenceTable, type ReferenceEntry } from "../risk/reference-table.js";
import { VarModel, type VarOptions } from "../risk/var.js";

export type RiskStores = {
  readonly reference: KeyValueStore<ReferenceEntry>;
  readonly accounts: KeyValueStore<AccountState>;
  readonly symbols: KeyValueStore<SymbolState>;
};

export function memoryRiskStores(): {
  reference: MemoryStore<ReferenceEntry>;
  accounts: MemoryStore<AccountState>;
  symbols: MemoryStore<SymbolState>;
} {
  return { reference: new MemoryStore(), accounts: new MemoryStore(), symbols: new MemoryStore() };
}

export type RiskOperatorOptions = {
  /** Default "USD". */
  readonly reportingCurrency?: string;
  /** One-hop cross rates go through this currency (default "USD"). */
  readonly pivotCurrency?: string;
  readonly var?: VarOptions;
  readonly limits?: LimitsConfig;
  /**
   * Emit a RiskSnapshot on stream "risk": for each account a record affects (true), only for the
   * account of each trade ("trades": one snapshot per trade, however fast quotes move), or never
   * (false, the default).
   */
  readonly emitSnapshots?: boolean | "trades";
};

export type RiskSnapshot = { readonly type: "risk"; readonly atMs: number } & AccountRisk;

export type RejectedInput = {
  readonly type: "rejected";
  readonly kind: string;
  readonly key: string;
  readonly reason: string;
  readonly atMs: number;
};

export type RiskOutput = LimitEvent | RiskSnapshot | RejectedInput;

export const BREACHES_STREAM = "breaches";
export const RISK_STREAM = "risk";
export const REJECTED_STREAM = "rejected";

export class RiskOperator implements Operator<RiskInput, RiskOutput> {
  private readonly reference: ReferenceTable;
  private readonly model: VarModel;
  private readonly limits: LimitsConfig;
  private readonly emitSnapshots: boolean | "trades";

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
  }

  process(record: EngineRecord<RiskInput>, out: Emitter<RiskOutput>): void {
    const v = record.value;
    const atMs = record.timestampMs;
    const reject = (reason: string): void =>
      out.emit(REJECTED_STREAM, record.key, { type: "rejected", kind: String(v?.kind), key: record.key, reason, atMs }, atMs);

    switch (v?.kind) {
      case "instrument": {
        const why = invalidInstrument(v);
        if (why !== undefined) return reject(why);
        this.reference.upsertInstrument(v, atMs);
        return this.evaluateAll(atMs, out);
      }
      case "fx": {
        const why = invalidFx(v);
        if (why !== undefined) return reject(why);
        this.reference.upsertFx(v, atMs);
        return this.evaluateAll(atMs, out);
      }
      case "trade": {
        const why = invalidTrade(v);
        if (why !== undefined) return reject(why);
        const account = this.stores.accounts.get(v.accountId) ?? emptyAccount(v.accountId);
        const before = account.positions.find((p) => p.symbol === v.symbol) ?? emptyPosition(v.symbol);
        const after = applyTrade(before, v);
        const positions: PositionState[] = [...account.positions.filter((p) => p.symbol !== v.symbol), after].sort((a, b) =>
          a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0,
        );
        this.stores.accounts.put(v.accountId, { ...account, positions });
        const sym = this.stores.symbols.get(v.symbol) ?? emptySymbol(v.symbol);
        const withH = withHolder(sym, v.accountId, after.quantity !== 0);
        if (withH !== sym || this.stores.symbols.get(v.symbol) === undefined) this.stores.symbols.put(v.symbol, withH);
        return this.evaluate(v.accountId, atMs, out, true);
      }
      case "quote": {
        const why = invalidQuote(v);
        if (why !== undefined) return reject(why);
        const sym = this.stores.symbols.get(v.symbol) ?? emptySymbol(v.symbol);
        const next = applyQuote(sym, v, atMs, this.model.lambda);
        if (next === "stale") return reject(`stale quote: older than the current mark at ${sym.markAtMs}`);
        this.stores.symbols.put(v.symbol, next);
        for (const account of next.holders) this.evaluate(account, atMs, out);
        return;
      }
      default:
        return reject("unknown input kind");
    }
  }

  /** Current risk figures of an account (a query; changes nothing). */
  risk(account: string): AccountRisk {
    const state = this.stores.accounts.get(account) ?? emptyAccount(account);
    return accountRisk(state, this.reference, (s) => this.stores.symbols.get(s), this.model);
  }

  private evaluateAll(atMs: number, out: Emitter<RiskOutput>): void {
    const accounts = [...this.stores.accounts.entries()].map(([k]) => k);
    for (const account of accounts) this.evaluate(account, atMs, out);
  }

  private evaluate(account: string, atMs: number, out: Emitter<RiskOutput>, byTrade = false): void {
    const state = this.stores.accounts.get(account) ?? emptyAccount(account);
    const risk = accountRisk(state, this.reference, (s) => this.stores.symbols.get(s), this.model);
    const measurements = measureLimits(
      limitsFor(this.limits, account),
      { grossExposure: risk.grossExposure, sectors: risk.sectors, var: risk.var, totalPnl: risk.totalPnl },
      state.breached,
    );
    const { events, breached } = limitTransitions(account, state.breached, measurements, atMs);
    if (events.length > 0) this.stores.accounts.put(account, { ...state, breached });
    for (const e of events) out.emit(BREACHES_STREAM, account, e, atMs);
    if (this.emitSnapshots === true || (this.emitSnapshots === "trades" && byTrade)) out.emit(RISK_STREAM, account, { type: "risk", atMs, ...risk }, atMs);
  }
}
