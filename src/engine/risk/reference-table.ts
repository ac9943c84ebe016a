/**
 * Reference data for risk: instruments by symbol and FX rates by currency pair, held in a
 * KeyValueStore and fed from compacted topics. The latest record per key wins (arrival order,
 * exactly like compaction keeps the last offset per key); `removeInstrument` / `removeFx` are
 * the tombstones. Lookups that cannot be answered say so explicitly: a conversion never turns
 * an unknown currency into zero.
 */
import type { KeyValueStore } from "../types.js";

/** An instrument as the engine sees it (mapped from weir.events.v1.Instrument). */
export type InstrumentRef = {
  readonly symbol: string;
  readonly sector: string;
  /** ISO 4217 code of the currency the instrument is priced in. */
  readonly currency: string;
  /** Value of one unit of quantity per unit of price (1 for equities). */
  readonly contractMultiplier: number;
};

/** An FX rate (mapped from weir.events.v1.FxRate): 1 `base` = `rate` `quote`. */
export type FxRateRef = {
  readonly base: string;
  readonly quote: string;
  readonly rate: number;
};

/** One stored reference entry (plain JSON). */
export type ReferenceEntry =
  | { readonly kind: "instrument"; readonly instrument: InstrumentRef; readonly updatedAtMs: number }
  | { readonly kind: "fx"; readonly fx: FxRateRef; readonly updatedAtMs: number };

/** How a rate was found. */
export type FxPath = "identity" | "direct" | "inverse" | "cross";

export type FxLookup =
  | { readonly ok: true; readonly rate: number; readonly path: FxPath }
  | { readonly ok: false; readonly reason: "unknown-fx"; readonly from: string; readonly to: string };

export type Conversion =
  | { readonly ok: true; readonly value: number; readonly rate: number; readonly path: FxPath }
  | { readonly ok: false; readonly reason: "unknown-fx"; readonly from: string; readonly to: string };

export type ReferenceTableOptions = {
  /** Currency amounts are reported in (default "USD"). */
  readonly reportingCurrency?: string;
  /**
   * Currency used for one-hop cross rates when neither a direct nor an inverse rate exists
   * (default "USD"; e.g. JPY→EUR via USD/JPY and EUR/USD).
   */
  readonly pivotCurrency?: string;
};

export const DEFAULT_REPORTING_CURRENCY = "USD";

/** Why a reference record was refused (the table is left unchanged). */
export function invalidInstrument(i: InstrumentRef): string | undefined {
  if (typeof i.symbol !== "string" || i.symbol === "") return "instrument symbol is empty";
  if (typeof i.currency !== "string" || i.currency === "") return "instrument currency is empty";
  if (typeof i.sector !== "string") return "instrument sector is not a string";
  if (!Number.isFinite(i.contractMultiplier) || i.contractMultiplier <= 0) {
    return "instrument contractMultiplier must be a finite number > 0";
  }
  return undefined;
}

export function invalidFx(r: FxRateRef): string | undefined {
  if (typeof r.base !== "string" || r.base === "" || typeof r.quote !== "string" || r.quote === "") {
    return "fx base and quote must be non-empty";
  }
  if (r.base === r.quote) return "fx base and quote must differ";
  if (!Number.isFinite(r.rate) || r.rate <= 0) return "fx rate must be a finite number > 0";
  return undefined;
}

const instrumentKey = (symbol: string): string => `instrument/${symbol}`;
const fxKey = (base: string, quote: string): string => `fx/${base}/${quote}`;

export class ReferenceTable {
  readonly reportingCurrency: string;
  private readonly pivot: string;

  constructor(
    private readonly store: KeyValueStore<ReferenceEntry>,
    options: ReferenceTableOptions = {},
  ) {
    this.reportingCurrency = options.reportingCurrency ?? DEFAULT_REPORTING_CURRENCY;
    this.pivot = options.pivotCurrency ?? DEFAULT_REPORTING_CURRENCY;
  }

  /** Latest wins. Throws on invalid data (use `invalidInstrument` first to refuse it gracefully). */
  upsertInstrument(instrument: InstrumentRef, atMs: number): void {
    const why = invalidInstrument(instrument);
    if (why !== undefined) throw new RangeError(why);
    const { symbol, sector, currency, contractMultiplier } = instrument;
    this.store.put(instrumentKey(symbol), {
      kind: "instrument",
      instrument: { symbol, sector, currency, contractMultiplier },
      updatedAtMs: atMs,
    });
  }

  /** Latest wins for the pair `base/quote`; an existing `quote/base` entry is left as is but the direct one is preferred. */
  upsertFx(fx: FxRateRef, atMs: number): void {
    const why = invalidFx(fx);
    if (why !== undefined) throw new RangeError(why);
    const { base, quote, rate } = fx;
    this.store.put(fxKey(base, quote), { kind: "fx", fx: { base, quote, rate }, updatedAtMs: atMs });
  }

  /** Tombstone for an instrument. */
  removeInstrument(symbol: string): void {
    this.store.delete(instrumentKey(symbol));
  }

  /** Tombstone for the pair `base/quote` (only that direction). */
  removeFx(base: string, quote: string): void {
    this.store.delete(fxKey(base, quote));
  }

  instrument(symbol: string): InstrumentRef | undefined {
    const e = this.store.get(instrumentKey(symbol));
    return e?.kind === "instrument" ? e.instrument : undefined;
  }

  /**
   * The rate r with `amount in from` × r = `amount in to`: identity, the direct pair, the inverse
   * pair (1/rate), or one hop through the pivot currency (each leg direct or inverse), in that order.
   */
  rate(from: string, to: string): FxLookup {
    if (from === to) return { ok: true, rate: 1, path: "identity" };
    const single = this.singleHop(from, to);
    if (single !== undefined) return { ok: true, rate: single.rate, path: single.path };
    if (from !== this.pivot && to !== this.pivot) {
      const a = this.singleHop(from, this.pivot);
      const b = this.singleHop(this.pivot, to);
      if (a !== undefined && b !== undefined) return { ok: true, rate: a.rate * b.rate, path: "cross" };
    }
    return { ok: false, reason: "unknown-fx", from, to };
  }

  /** Converts `amount` in `currency` into `to` (default: the reporting currency). */
  convert(amount: number, currency: string, to: string = this.reportingCurrency): Conversion {
    const r = this.rate(currency, to);
    if (!r.ok) return r;
    return { ok: true, value: amount * r.rate, rate: r.rate, path: r.path };
  }

  private singleHop(from: string, to: string): { rate: number; path: "direct" | "inverse" } | undefined {
    const direct = this.store.get(fxKey(from, to));
    if (direct?.kind === "fx") return { rate: direct.fx.rate, path: "direct" };
    const inverse = this.store.get(fxKey(to, from));
    if (inverse?.kind === "fx") return { rate: 1 / inverse.fx.rate, path: "inverse" };
    return undefined;
  }
}
