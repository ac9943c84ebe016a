import { describe, expect, it } from "vitest";
import { MemoryStore, type Emitter, type EngineRecord } from "../../../src/engine/types.js";
import {
  memoryRiskStores,
  RISK_STORE_NAMES,
  RiskOperator,
  type RiskOperatorOptions,
  type RiskOutput,
  type RiskSnapshot,
  riskStores,
  type RiskStores,
} from "../../../src/engine/jobs/risk-limits.js";
import type { MtmUpdate } from "../../../src/engine/risk/mtm.js";
import { EngineTestDriver } from "../../../src/engine/testing/index.js";
import { riskRecordKey, type RiskInput } from "../../../src/engine/risk/input.js";
import { fxInput, instrumentInput, quoteInput, tradeInput } from "../../../src/engine/risk/from-proto.js";
import { create } from "@bufbuild/protobuf";
import { QuoteSchema, Side, TradeSchema } from "../../../src/gen/weir/events/v1/market_pb.js";
import { FxRateSchema, InstrumentSchema } from "../../../src/gen/weir/events/v1/reference_pb.js";

type Emitted = { stream: string; key: string; value: RiskOutput; timestampMs: number };

class ArrayEmitter implements Emitter<RiskOutput> {
  readonly out: Emitted[] = [];
  emit(stream: string, key: string, value: RiskOutput, timestampMs: number): void {
    this.out.push({ stream, key, value, timestampMs });
  }
  stream(name: string): RiskOutput[] {
    return this.out.filter((e) => e.stream === name).map((e) => e.value);
  }
}

const rec = (timestampMs: number, value: RiskInput): EngineRecord<RiskInput> => ({ key: riskRecordKey(value), value, timestampMs });
const instrument = (t: number, symbol: string, sector: string, currency: string, contractMultiplier = 1) =>
  rec(t, { kind: "instrument", symbol, sector, currency, contractMultiplier });
const fx = (t: number, base: string, quote: string, rate: number) => rec(t, { kind: "fx", base, quote, rate });
const quote = (t: number, symbol: string, bid: number, ask: number) => rec(t, { kind: "quote", symbol, bid, ask });
let tradeSeq = 0;
const trade = (t: number, accountId: string, side: "BUY" | "SELL", quantity: number, symbol: string, price: number) =>
  rec(t, { kind: "trade", tradeId: `T${++tradeSeq}`, accountId, symbol, side, quantity, price });

const OPTIONS: RiskOperatorOptions = {
  // The stream below is in event-time order: no out-of-orderness to wait for.
  trades: { maxOutOfOrdernessMs: 0 },
  quotes: { maxOutOfOrdernessMs: 0 },
  var: { minReturns: 3 },
  limits: {
    default: { maxGrossExposure: 1_000_000, maxSectorNetExposure: 600_000, maxVar: 150_000, maxLoss: 50_000 },
    accounts: { "ACC-2": { maxGrossExposure: 200_000 } },
  },
};

const STREAM: EngineRecord<RiskInput>[] = [
  instrument(1000, "AAPL", "TECH", "USD"),
  instrument(1000, "MSFT", "TECH", "USD"),
  instrument(1000, "XOM", "ENERGY", "USD"),
  instrument(1000, "FESX", "INDEX", "EUR", 10),
  fx(1000, "EUR", "USD", 1.25),
  quote(2000, "AAPL", 99.5, 100.5), // mid 100
  quote(2000, "XOM", 49.5, 50.5), // mid 50
  quote(2000, "FESX", 3999, 4001), // mid 4000
  trade(3000, "ACC-1", "BUY", 5000, "AAPL", 100), // TECH 500k
  trade(4000, "ACC-1", "BUY", 2000, "MSFT", 100), // MSFT not marked yet: TECH still 500k
  quote(5000, "MSFT", 99.5, 100.5), // TECH 700k > 600k: breach
  quote(6000, "AAPL", 109.5, 110.5), // TECH 750k: still breached, no event
  quote(7000, "MSFT", 99.5, 100.5), // unchanged, no event
  trade(8000, "ACC-1", "SELL", 8000, "XOM", 50), // gross 550k + 200k + 400k = 1.15M: breach
  trade(9000, "ACC-1", "SELL", 3000, "AAPL", 110), // realises 30k; gross 820k, TECH 420k: both clear
  trade(10_000, "ACC-2", "BUY", 5, "FESX", 4000), // 5 × 4000 × 10 × 1.25 = 250k > 200k
  fx(11_000, "EUR", "USD", 0.75), // 150k: clears
  quote(12_000, "XOM", 59.5, 60.5), // P&L: 30k + 20k − 80k = −30k
  quote(13_000, "XOM", 64.5, 65.5), // P&L −70k: loss breach
  quote(14_000, "XOM", 62, 63), // P&L −50k: loss clears (not strictly below); XOM has 3 returns: VaR breach
  quote(13_900, "XOM", 60, 61), // stale: rejected
  quote(14_500, "AAPL", 0, 110), // invalid: rejected
  trade(15_000, "ACC-1", "BUY", 6000, "XOM", 62.5), // short 2000 left: VaR clears; P&L still −50k
];

/** Independent figures for the golden list. */
const Z99 = 2.326347874040841;
function xomSigma(): number {
  const mids = [50, 60, 65, 62.5];
  let v = 0;
  for (let i = 1; i < mids.length; i++) {
    const r = Math.log(mids[i]! / mids[i - 1]!);
    v = i === 1 ? r * r : 0.94 * v + 0.06 * r * r;
  }
  return Math.sqrt(v);
}

const GOLDEN = [
  { type: "breach", account: "ACC-1", limit: "maxSectorNetExposure", sector: "TECH", value: 700_000, threshold: 600_000, atMs: 5000 },
  { type: "breach", account: "ACC-1", limit: "maxGrossExposure", value: 1_150_000, threshold: 1_000_000, atMs: 8000 },
  { type: "cleared", account: "ACC-1", limit: "maxGrossExposure", value: 820_000, threshold: 1_000_000, atMs: 9000 },
  { type: "cleared", account: "ACC-1", limit: "maxSectorNetExposure", sector: "TECH", value: 420_000, threshold: 600_000, atMs: 9000 },
  { type: "breach", account: "ACC-2", limit: "maxGrossExposure", value: 250_000, threshold: 200_000, atMs: 10_000 },
  { type: "cleared", account: "ACC-2", limit: "maxGrossExposure", value: 150_000, threshold: 200_000, atMs: 11_000 },
  { type: "breach", account: "ACC-1", limit: "maxLoss", value: 70_000, threshold: 50_000, atMs: 13_000 },
  { type: "breach", account: "ACC-1", limit: "maxVar", value: expect.closeTo(Z99 * 500_000 * xomSigma(), 3) as number, threshold: 150_000, atMs: 14_000 },
  { type: "cleared", account: "ACC-1", limit: "maxLoss", value: 50_000, threshold: 50_000, atMs: 14_000 },
  { type: "cleared", account: "ACC-1", limit: "maxVar", value: expect.closeTo(Z99 * 125_000 * xomSigma(), 3) as number, threshold: 150_000, atMs: 15_000 },
];

/**
 * Runs the records in arrival order. `watermarkEach`: after each record the watermark is advanced
 * just past it, as an idle policy would with in-order input, so every record is applied as soon as
 * it arrives (what the job did before it waited for watermarks). Otherwise only the records' own
 * watermarks move event time, and `end` (if given) advances the watermark at the end of the input.
 */
function runAll(
  records: EngineRecord<RiskInput>[],
  stores: RiskStores = memoryRiskStores(),
  options = OPTIONS,
  { watermarkEach = true, end }: { watermarkEach?: boolean; end?: number } = {},
) {
  const op = new RiskOperator(stores, options);
  const out = new ArrayEmitter();
  for (const r of records) {
    op.process(r, out);
    // +1: a trade at t waits until the quote table's watermark is past t (a quote AT t is still on time at t).
    if (watermarkEach) op.advanceWatermark(r.timestampMs + 1, out);
  }
  if (end !== undefined) op.advanceWatermark(end, out);
  return { op, out, stores };
}

describe("risk limit breaches job", () => {
  it("emits exactly the golden breach and cleared events", () => {
    const { out } = runAll(STREAM);
    expect(out.stream("breaches")).toEqual(GOLDEN);
    // Keyed by account, stamped with the record's time.
    for (const e of out.out.filter((x) => x.stream === "breaches")) {
      expect(e.key).toBe((e.value as { account: string }).account);
      expect(e.timestampMs).toBe((e.value as { atMs: number }).atMs);
    }
    expect(out.stream("rejected")).toEqual([
      { type: "rejected", kind: "quote", key: "XOM", reason: "stale quote: older than the current mark at 14000", atMs: 13_900 },
      { type: "rejected", kind: "quote", key: "AAPL", reason: "quote bid and ask must be finite numbers > 0", atMs: 14_500 },
    ]);
    expect(out.stream("risk")).toEqual([]);
  });

  it("without watermark help, holds each trade until both watermarks pass it", () => {
    const { out, op } = runAll(STREAM, memoryRiskStores(), OPTIONS, { watermarkEach: false });
    // Trades wait for a later quote (the quote table's watermark) and a later trade (their own).
    // Two expectations change: ACC-2's FESX trade at 10_000 is applied only once the XOM quote at
    // 12_000 arrives, after the FX update at 11_000 (reference data is a latest-wins table in
    // arrival order): valued at 0.75, it never crosses 200k. And the last trade (15_000) waits for
    // the end of the input, so maxVar has not cleared yet.
    const acc1 = GOLDEN.filter((e) => e.account === "ACC-1");
    expect(out.stream("breaches")).toEqual(acc1.slice(0, -1));
    expect(op.stats()).toMatchObject({ waitingAccounts: 1, tradeWatermarkMs: 15_000, quoteWatermarkMs: 14_000 });
    op.advanceWatermark(15_001, out);
    expect(out.stream("breaches")).toEqual(acc1);
    expect(op.risk("ACC-2")).toMatchObject({ grossExposure: 150_000 });
  });

  it("emits no duplicate while a limit stays breached", () => {
    const { out } = runAll([
      ...STREAM.slice(0, 11),
      quote(5100, "MSFT", 100.5, 101.5),
      quote(5200, "AAPL", 100.5, 101.5),
      quote(5300, "MSFT", 99.5, 100.5),
      trade(5400, "ACC-1", "BUY", 1, "AAPL", 101),
    ]);
    expect(out.stream("breaches")).toEqual([GOLDEN[0]]);
  });

  it("ends with the expected account figures", () => {
    const { op, stores } = runAll(STREAM);
    const risk = op.risk("ACC-1");
    expect(risk).toMatchObject({
      currency: "USD",
      grossExposure: 2000 * 110 + 2000 * 100 + 2000 * 62.5,
      netExposure: 2000 * 110 + 2000 * 100 - 2000 * 62.5,
      sectors: [
        { sector: "ENERGY", gross: 125_000, net: -125_000 },
        { sector: "TECH", gross: 420_000, net: 420_000 },
      ],
      realisedPnl: 30_000 - 75_000,
      unrealisedPnl: 20_000 + 0 - 25_000,
      totalPnl: -50_000,
      varSymbols: ["XOM"],
      varMissing: ["AAPL", "MSFT"],
      unvalued: [],
    });
    expect(risk.var).toBeCloseTo(Z99 * 125_000 * xomSigma(), 3);
    expect(stores.accounts.get("ACC-1")!.breached).toEqual([]);
    expect(stores.symbols.get("XOM")!.holders).toEqual(["ACC-1"]);
  });

  it("restores from the changelog at any point and continues identically", () => {
    for (const watermarkEach of [true, false]) {
      const mode = { watermarkEach, end: 20_000 };
      const full = runAll(STREAM, memoryRiskStores(), OPTIONS, mode).out.out;
      for (let split = 0; split <= STREAM.length; split++) {
        const first = memoryRiskStores();
        const a = runAll(STREAM.slice(0, split), first, OPTIONS, { watermarkEach });
        // What the runtime would have written to the changelog topics, replayed into fresh stores.
        const restored = memoryRiskStores();
        for (const name of RISK_STORE_NAMES) {
          const changelog = new Map<string, unknown>();
          for (const [k, v] of first[name].takeChanges()) {
            if (v === undefined) changelog.delete(k);
            else changelog.set(k, JSON.parse(JSON.stringify(v)));
          }
          for (const [k, v] of changelog) (restored[name] as MemoryStore<unknown>).put(k, v);
        }
        const b = runAll(STREAM.slice(split), restored, OPTIONS, mode);
        expect([...a.out.out, ...b.out.out]).toEqual(full);
      }
    }
  });

  it("emits a per-account snapshot when asked", () => {
    const { out } = runAll(STREAM.slice(0, 16), memoryRiskStores(), { ...OPTIONS, emitSnapshots: true });
    const last = out.out.filter((e) => e.stream === "risk").at(-1)!;
    expect(last.key).toBe("ACC-2");
    expect(last.value).toMatchObject({
      type: "risk",
      account: "ACC-2",
      atMs: 10_000,
      grossExposure: 250_000,
      sectors: [{ sector: "INDEX", gross: 250_000, net: 250_000 }],
      var: null,
      varMissing: ["FESX"],
      positions: [{ symbol: "FESX", quantity: 5, mark: 4000, exposure: 250_000, fxRate: 1.25 }],
      // Which mark it was valued with: the FESX quote valid from 2000.
      marks: [{ symbol: "FESX", mark: 4000, validFromMs: 2000 }],
    });
    // Unvalued positions are reported, not counted as zero: MSFT before its first quote.
    const msft = out.out.find((e) => e.stream === "risk" && e.timestampMs === 4000)!;
    expect(msft.value).toMatchObject({ grossExposure: 500_000, unvalued: [{ symbol: "MSFT", reason: "no-mark" }], tradeId: expect.any(String) as string });
    expect((msft.value as RiskSnapshot).marks).toEqual([{ symbol: "AAPL", mark: 100, validFromMs: 2000 }]);
  });

  it("maps the generated protobuf events to inputs", () => {
    expect(instrumentInput(create(InstrumentSchema, { symbol: "ES", sector: "INDEX", currency: "USD", contractMultiplier: 50 }))).toEqual({
      kind: "instrument",
      symbol: "ES",
      sector: "INDEX",
      currency: "USD",
      contractMultiplier: 50,
    });
    expect(fxInput(create(FxRateSchema, { base: "EUR", quote: "USD", rate: 1.1 }))).toEqual({ kind: "fx", base: "EUR", quote: "USD", rate: 1.1 });
    expect(quoteInput(create(QuoteSchema, { symbol: "ES", bid: 1, ask: 2, venue: "X" }))).toEqual({ kind: "quote", symbol: "ES", bid: 1, ask: 2 });
    const t = create(TradeSchema, { tradeId: "t", accountId: "A", symbol: "ES", side: Side.SELL, quantity: 2, price: 3 });
    expect(tradeInput(t)).toEqual({ kind: "trade", tradeId: "t", accountId: "A", symbol: "ES", side: "SELL", quantity: 2, price: 3 });
    expect(() => tradeInput({ ...t, side: Side.UNSPECIFIED })).toThrow(RangeError);
  });
});

describe("risk job in event time", () => {
  const REF = [instrument(0, "AAPL", "TECH", "USD"), instrument(0, "SAP", "TECH", "EUR"), fx(0, "EUR", "USD", 1.25)];
  const driver = (options: RiskOperatorOptions = {}) =>
    new EngineTestDriver((stores) => new RiskOperator(riskStores(stores), { emitSnapshots: "trades", ...options })).pipeRecords(REF);
  const snapshots = (d: ReturnType<typeof driver>) => d.readValues("risk") as RiskSnapshot[];
  const mtm = (d: ReturnType<typeof driver>) => d.readValues("mtm") as MtmUpdate[];

  it("prices a trade with the mark as of its event time, whatever arrived before or after it", () => {
    const d = driver();
    d.pipeRecords([
      quote(10_000, "AAPL", 99, 101), // 100 from 10_000
      quote(12_000, "AAPL", 119, 121), // 120 from 12_000: arrives before the trade, but is later
      trade(11_500, "A", "BUY", 10, "AAPL", 100),
      quote(11_400, "AAPL", 109, 111), // 110 from 11_400: arrives after the trade, within the bound: it is the trade's mark
    ]);
    expect(snapshots(d)).toEqual([]); // waiting: neither watermark has passed 11_500
    d.pipeRecords([trade(13_000, "B", "BUY", 1, "AAPL", 120), quote(13_000, "AAPL", 119, 121)]);
    const [snap] = snapshots(d);
    expect(snap).toMatchObject({ tradeId: expect.any(String) as string, atMs: 11_500, marks: [{ symbol: "AAPL", mark: 110, validFromMs: 11_400 }] });
    expect(snap!.positions[0]).toMatchObject({ symbol: "AAPL", quantity: 10, mark: 110, exposure: 1100 });
    expect(snap!.ordering).toBeUndefined();
    // B's trade at 13_000 waits for the end of the input (nothing later has arrived).
    d.advanceWatermark(13_001);
    expect(snapshots(d)).toMatchObject([{ account: "B", atMs: 13_000, marks: [{ symbol: "AAPL", mark: 120, validFromMs: 13_000 }] }]);
  });

  it("applies an account's trades in event-time order and flags one that arrives after a later one was applied", () => {
    const d = driver({ trades: { maxOutOfOrdernessMs: 100 }, quotes: { maxOutOfOrdernessMs: 0 } });
    d.pipeRecords([quote(1000, "AAPL", 99, 101), trade(2000, "A", "BUY", 10, "AAPL", 100), trade(1500, "A", "SELL", 4, "AAPL", 100)]);
    d.pipeRecords([quote(3000, "AAPL", 99, 101), trade(3000, "X", "BUY", 1, "AAPL", 100)]);
    // Event-time order: the sell (1500) first, from flat: short 4, then the buy: long 6.
    expect(snapshots(d).map((s) => [s.atMs, s.positions[0]!.quantity, s.ordering])).toEqual([
      [1500, -4, undefined],
      [2000, 6, undefined],
    ]);
    // A trade older than one applied for A: applied at once, out of order, and says so.
    d.pipeInput("A", { kind: "trade", tradeId: "late", accountId: "A", symbol: "AAPL", side: "BUY", quantity: 1, price: 100 }, 1800);
    expect(snapshots(d)).toMatchObject([{ tradeId: "late", atMs: 1800, ordering: "late", positions: [{ quantity: 7 }] }]);
    expect(d.operator.stats()).toMatchObject({ lateTrades: 1 });
  });

  it("applies the oldest waiting trade early when an account has too many waiting, and says so", () => {
    const d = driver({ trades: { maxOutOfOrdernessMs: 0, maxWaitingPerAccount: 2 } });
    d.pipeRecords([quote(1000, "AAPL", 99, 101), trade(2000, "A", "BUY", 1, "AAPL", 100), trade(2100, "A", "BUY", 1, "AAPL", 100)]);
    expect(snapshots(d)).toEqual([]);
    d.pipeInput("A", { kind: "trade", tradeId: "third", accountId: "A", symbol: "AAPL", side: "BUY", quantity: 1, price: 100 }, 2200);
    expect(snapshots(d)).toMatchObject([{ atMs: 2000, ordering: "early" }]);
    expect(d.operator.stats()).toMatchObject({ tradesReleasedEarly: 1, waitingAccounts: 1 });
  });

  it("waits for every declared quote source, and lets sources be skewed by more than the bound", () => {
    const sources = ["q/0", "q/1"];
    const d = driver({ trades: { maxOutOfOrdernessMs: 0 }, quotes: { maxOutOfOrdernessMs: 0, sources } });
    const sourced = (t: number, symbol: string, mid: number, source: string) => rec(t, { kind: "quote", symbol, bid: mid, ask: mid, source });
    d.pipeRecords([sourced(5000, "AAPL", 100, "q/0"), trade(4000, "A", "BUY", 1, "AAPL", 100), trade(6000, "Z", "BUY", 1, "AAPL", 100)]);
    expect(snapshots(d)).toEqual([]); // q/1 has not spoken: the quote table's watermark is minus infinity
    // q/1 is 3 s behind q/0: its quote at 2000 is not late, and it is A's mark at 4000.
    d.pipeRecords([sourced(2000, "SAP", 50, "q/1"), sourced(3900, "AAPL", 90, "q/1"), sourced(4500, "SAP", 50, "q/1")]);
    expect(snapshots(d)).toMatchObject([{ account: "A", atMs: 4000, marks: [{ symbol: "AAPL", mark: 90, validFromMs: 3900 }] }]);
    expect(d.operator.stats()).toMatchObject({ quoteWatermarkMs: 4500, quotesBehindWatermark: 0 });
    expect(d.readValues("rejected")).toEqual([]);
  });

  it("marks to market per quote: every quote of a held symbol, every trade", () => {
    const d = driver({ trades: { maxOutOfOrdernessMs: 0 }, quotes: { maxOutOfOrdernessMs: 0 }, mtm: { emit: "per-quote" } });
    d.pipeRecords([quote(1000, "SAP", 99, 101), trade(1500, "A", "BUY", 10, "SAP", 90), quote(2000, "SAP", 109, 111), quote(3000, "SAP", 109, 111)]);
    expect(mtm(d)).toEqual([
      // The trade (applied once the quote at 2000 passed it), valued at the mark then current.
      {
        type: "mtm",
        account: "A",
        symbol: "SAP",
        currency: "USD",
        asOfMs: 1500,
        quantity: 10,
        avgPrice: 90,
        mark: 100,
        markValidFromMs: 1000,
        marketValue: 1250,
        realisedPnl: 0,
        unrealisedPnl: 125,
        totalPnl: 125,
      },
      expect.objectContaining({ asOfMs: 2000, mark: 110, marketValue: 1375, unrealisedPnl: 250 }) as MtmUpdate,
      expect.objectContaining({ asOfMs: 3000, mark: 110, markValidFromMs: 3000 }) as MtmUpdate,
    ]);
  });

  it("marks to market per interval: positions that changed, once per boundary, as of just before it", () => {
    const d = driver({ trades: { maxOutOfOrdernessMs: 0 }, quotes: { maxOutOfOrdernessMs: 0 }, mtm: { emit: "interval", intervalMs: 1000 } });
    d.pipeRecords([quote(1000, "AAPL", 99, 101), trade(1100, "A", "BUY", 10, "AAPL", 100), quote(1200, "AAPL", 101, 103), quote(1900, "AAPL", 103, 105)]);
    expect(mtm(d)).toEqual([]);
    d.pipeRecords([quote(2100, "AAPL", 104, 106), quote(2500, "AAPL", 104, 106), quote(3200, "AAPL", 104, 106)]);
    // Crossing 2000: A's figures as of 1900 (mark 104). Crossing 3000: the mark moved to 105 (valid from 2500).
    expect(mtm(d).map((m) => [m.asOfMs, m.mark, m.markValidFromMs, m.unrealisedPnl])).toEqual([
      [1900, 104, 1900, 40],
      [2500, 105, 2500, 50],
    ]);
  });

  it("marks to market on change: a quantity change, or a move of the market value over a threshold", () => {
    const d = driver({ trades: { maxOutOfOrdernessMs: 0 }, quotes: { maxOutOfOrdernessMs: 0 }, mtm: { emit: "on-change", relative: 0.05, absolute: 30 } });
    d.pipeRecords([
      quote(1000, "AAPL", 100, 100),
      trade(1100, "A", "BUY", 10, "AAPL", 100), // first figure: 1000
      quote(1200, "AAPL", 102, 102), // +20: under both
      quote(1300, "AAPL", 103.5, 103.5), // +35 from 1000: over 30 absolute
      quote(1400, "AAPL", 104, 104), // +5
      trade(1500, "A", "BUY", 1, "AAPL", 104), // quantity changes
      quote(1600, "AAPL", 99, 99), // 1144 → 1089: −55, over 5% (57.2)? no; over 30: yes
      quote(1700, "AAPL", 99, 99),
    ]);
    expect(mtm(d).map((m) => [m.asOfMs, m.quantity, m.marketValue])).toEqual([
      [1100, 10, 1000],
      [1300, 10, 1035],
      [1500, 11, 1144],
      [1600, 11, 1089],
    ]);
  });

  it("emits every changed position when the watermark passes, flat ones included, and then nothing more", () => {
    const d = driver({ trades: { maxOutOfOrdernessMs: 0 }, quotes: { maxOutOfOrdernessMs: 0 }, mtm: { emit: "interval", intervalMs: 60_000 } });
    d.pipeRecords([
      quote(1000, "AAPL", 100, 100),
      quote(1000, "SAP", 50, 50),
      trade(1100, "A", "BUY", 10, "AAPL", 100),
      trade(1200, "A", "SELL", 10, "AAPL", 103), // flat, realised 30
      trade(1300, "A", "SELL", 2, "SAP", 50),
      quote(1400, "SAP", 49, 49),
    ]);
    d.advanceWatermark(1401);
    expect(mtm(d)).toEqual([
      expect.objectContaining({ symbol: "AAPL", quantity: 0, realisedPnl: 30, unrealisedPnl: 0, marketValue: 0, totalPnl: 30, asOfMs: 1400 }) as MtmUpdate,
      expect.objectContaining({ symbol: "SAP", quantity: -2, mark: 49, realisedPnl: 0, unrealisedPnl: 2 * 1.25, marketValue: -98 * 1.25 }) as MtmUpdate,
    ]);
    d.advanceWatermark(5000);
    expect(mtm(d)).toEqual([]);
    // An FX move changes the SAP figures without a quote: the next advance says so.
    d.pipeRecords([fx(6000, "EUR", "USD", 1.5)]).advanceWatermark(7000);
    expect(mtm(d)).toMatchObject([{ symbol: "SAP", marketValue: -98 * 1.5 }]);
  });

  it("refuses bad options, naming the field", () => {
    const make = (options: RiskOperatorOptions) => () => new RiskOperator(memoryRiskStores(), options);
    expect(make({ trades: { maxOutOfOrdernessMs: -1 } })).toThrow(/trades\.maxOutOfOrdernessMs/);
    expect(make({ quotes: { maxVersions: 0 } })).toThrow(/quotes\.maxVersions/);
    expect(make({ mtm: { emit: "on-change" } })).toThrow(/relative or an absolute/);
    expect(make({ mtm: { emit: "interval", intervalMs: 0 } })).toThrow(/mtm\.intervalMs/);
    expect(make({ quotes: { unknown: 1 } as RiskOperatorOptions["quotes"] })).toThrow(/quotes/);
  });
});
