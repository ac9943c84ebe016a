import { describe, expect, it } from "vitest";
import { MemoryStore, type Emitter, type EngineRecord } from "../../../src/engine/types.js";
import { memoryRiskStores, RiskOperator, type RiskOperatorOptions, type RiskOutput, type RiskStores } from "../../../src/engine/jobs/risk-limits.js";
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
  { type: "breach", account: "ACC-1", limit: "maxVar", value: expect.closeTo(Z99 * 500_000 * xomSigma(), 3), threshold: 150_000, atMs: 14_000 },
  { type: "cleared", account: "ACC-1", limit: "maxLoss", value: 50_000, threshold: 50_000, atMs: 14_000 },
  { type: "cleared", account: "ACC-1", limit: "maxVar", value: expect.closeTo(Z99 * 125_000 * xomSigma(), 3), threshold: 150_000, atMs: 15_000 },
];

function runAll(records: EngineRecord<RiskInput>[], stores: RiskStores = memoryRiskStores(), options = OPTIONS) {
  const op = new RiskOperator(stores, options);
  const out = new ArrayEmitter();
  for (const r of records) op.process(r, out);
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
    const full = runAll(STREAM).out.out;
    for (let split = 0; split <= STREAM.length; split++) {
      const first = memoryRiskStores();
      const a = runAll(STREAM.slice(0, split), first);
      // What the runtime would have written to the changelog topics, replayed into fresh stores.
      const restored = memoryRiskStores();
      for (const name of ["reference", "accounts", "symbols"] as const) {
        const changelog = new Map<string, unknown>();
        for (const [k, v] of first[name].takeChanges()) {
          if (v === undefined) changelog.delete(k);
          else changelog.set(k, JSON.parse(JSON.stringify(v)));
        }
        for (const [k, v] of changelog) (restored[name] as MemoryStore<unknown>).put(k, v);
      }
      const b = runAll(STREAM.slice(split), restored);
      expect([...a.out.out, ...b.out.out]).toEqual(full);
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
    });
    // Unvalued positions are reported, not counted as zero: MSFT before its first quote.
    const msft = out.out.find((e) => e.stream === "risk" && e.timestampMs === 4000)!;
    expect(msft.value).toMatchObject({ grossExposure: 500_000, unvalued: [{ symbol: "MSFT", reason: "no-mark" }] });
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
