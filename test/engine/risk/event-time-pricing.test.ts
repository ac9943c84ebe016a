/**
 * Property test of the risk job's event-time join: seeded market traffic (the demo's generator),
 * trades and quotes on separate "topics" (quotes over two partitions, skewed against each other),
 * each shuffled within a bounded disorder, checked against an independent calculation written
 * here — a plain sort-by-event-time replay, sharing no code with the engine's positions:
 * (a) every risk snapshot is priced with the mark as of its trade's event time;
 * (b) once the input ends and the watermark passes it, the last mark-to-market per (account,
 *     symbol) is the replay's final position and P&L (relative error ≤ 1e-9).
 */
import { describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { FxRateSchema, InstrumentSchema } from "../../../src/gen/weir/events/v1/reference_pb.js";
import { QuoteSchema, TradeSchema } from "../../../src/gen/weir/events/v1/market_pb.js";
import type { Envelope } from "../../../src/gen/weir/v1/envelope_pb.js";
import { fxInput, instrumentInput, quoteInput, tradeInput } from "../../../src/engine/risk/from-proto.js";
import { riskRecordKey, type RiskInput } from "../../../src/engine/risk/input.js";
import type { MtmPolicy, MtmUpdate } from "../../../src/engine/risk/mtm.js";
import { RiskOperator, riskStores, type RiskSnapshot } from "../../../src/engine/jobs/risk-limits.js";
import type { EngineRecord } from "../../../src/engine/types.js";
import { EngineTestDriver } from "../../../src/engine/testing/index.js";
import { instruments, marketFeed, referenceEvents } from "../../../src/generators/market.js";
import { createRng, type Rng } from "../../../src/generators/rng.js";

const BASE = Date.UTC(2026, 10, 29, 9);
const DISORDER_MS = 400;
const FX: Record<string, number> = { USD: 1, EUR: 1.08, GBP: 1.27 }; // referenceEvents' rates

type Trade = Extract<RiskInput, { kind: "trade" }>;
type Quote = Extract<RiskInput, { kind: "quote" }>;

function decode(env: Envelope): EngineRecord<RiskInput> {
  const t = timestampMs(env.eventTime!);
  const value: RiskInput =
    env.type === TradeSchema.typeName
      ? tradeInput(fromBinary(TradeSchema, env.payload))
      : env.type === QuoteSchema.typeName
        ? quoteInput(fromBinary(QuoteSchema, env.payload))
        : env.type === InstrumentSchema.typeName
          ? instrumentInput(fromBinary(InstrumentSchema, env.payload))
          : fxInput(fromBinary(FxRateSchema, env.payload));
  return { key: riskRecordKey(value), value, timestampMs: t };
}

/** A stream's arrival order: each record delayed by up to `disorder` (so none is later than that behind the newest), plus a skew. */
function arrivals(
  records: ReadonlyArray<EngineRecord<RiskInput>>,
  rng: Rng,
  disorder: number,
  skew: number,
): Array<{ at: number; r: EngineRecord<RiskInput> }> {
  return records.map((r) => ({ at: r.timestampMs + skew + rng.next() * disorder, r }));
}

/** The traffic in arrival order: reference data first, then trades and the two quote partitions interleaved as they "arrive". */
function scenario(seed: number, events: number) {
  const rng = createRng(seed);
  const feed = marketFeed(rng, BASE + 1000);
  const generated = Array.from({ length: events }, (_, i) => decode(feed.next(i)));
  const trades = generated.filter((r) => r.value.kind === "trade");
  const quotes = generated.filter((r) => r.value.kind === "quote");
  // Two quote partitions by symbol; each says where it came from, and they are skewed by more than the disorder bound.
  const partition = (symbol: string) => `weir.events.quote/${instruments.findIndex((i) => i.symbol === symbol) % 2}`;
  const sourced = quotes.map((r) => ({ ...r, value: { ...(r.value as Quote), source: partition((r.value as Quote).symbol) } }));
  const skew = () => (rng.next() - 0.5) * 4 * DISORDER_MS;
  const arrival = [
    ...arrivals(trades, rng, DISORDER_MS, skew()),
    ...arrivals(
      sourced.filter((r) => r.value.source.endsWith("/0")),
      rng,
      DISORDER_MS,
      skew(),
    ),
    ...arrivals(
      sourced.filter((r) => r.value.source.endsWith("/1")),
      rng,
      DISORDER_MS,
      skew(),
    ),
  ].sort((a, b) => a.at - b.at);
  return { reference: referenceEvents(BASE).map(decode), arrival: arrival.map((a) => a.r), trades, quotes, lastMs: generated.at(-1)!.timestampMs };
}

// --- the independent calculation: sort by event time, replay ---

type Mark = { readonly t: number; readonly mid: number };

function markHistory(quotes: ReadonlyArray<EngineRecord<RiskInput>>): Map<string, Mark[]> {
  const bySymbol = new Map<string, Mark[]>();
  for (const r of [...quotes].sort((a, b) => a.timestampMs - b.timestampMs)) {
    const q = r.value as Quote;
    const list = bySymbol.get(q.symbol) ?? [];
    list.push({ t: r.timestampMs, mid: (q.bid + q.ask) / 2 });
    bySymbol.set(q.symbol, list);
  }
  return bySymbol;
}

function markAsOf(history: Map<string, Mark[]>, symbol: string, t: number): Mark | undefined {
  let found: Mark | undefined;
  for (const m of history.get(symbol) ?? []) {
    if (m.t > t) break;
    found = m;
  }
  return found;
}

type Book = { qty: number; avg: number; realisedPoints: number };

/** Average-cost book: buys and sells in the position's direction re-average, against it realise, a flip reopens at the price. */
function book(trades: ReadonlyArray<EngineRecord<RiskInput>>): Map<string, Book> {
  const books = new Map<string, Book>();
  for (const r of [...trades].sort((a, b) => a.timestampMs - b.timestampMs)) {
    const t = r.value as Trade;
    const key = `${t.accountId}|${t.symbol}`;
    const b = books.get(key) ?? { qty: 0, avg: 0, realisedPoints: 0 };
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
    books.set(key, b);
  }
  return books;
}

function relErr(got: number | null, want: number): number {
  if (got === null) return Number.POSITIVE_INFINITY;
  return Math.abs(got - want) / Math.max(1, Math.abs(want));
}

const POLICIES: ReadonlyArray<[number, MtmPolicy]> = [
  [11, { emit: "interval", intervalMs: 1000 }],
  [23, { emit: "on-change", relative: 0.002, absolute: 5_000 }],
  [37, { emit: "per-quote" }],
];

describe("risk job: event-time pricing under disorder (property)", () => {
  for (const [seed, mtm] of POLICIES) {
    it(`seed ${seed}, mtm ${mtm.emit}: snapshots priced as of their trade, final positions and P&L exact`, () => {
      const s = scenario(seed, 15_000);
      const build = () =>
        new EngineTestDriver(
          (stores) =>
            new RiskOperator(riskStores(stores), {
              emitSnapshots: "trades",
              trades: { maxOutOfOrdernessMs: DISORDER_MS },
              quotes: { maxOutOfOrdernessMs: DISORDER_MS, sources: ["weir.events.quote/0", "weir.events.quote/1"] },
              mtm,
            }),
        );
      // Halfway through, the task restarts from its changelog.
      const first = build().pipeRecords(s.reference);
      const half = Math.floor(s.arrival.length / 2);
      first.pipeRecords(s.arrival.slice(0, half));
      const driver = first
        .restore()
        .pipeRecords(s.arrival.slice(half))
        .advanceWatermark(s.lastMs + 1);
      const outputs = [...first.readAll(), ...driver.readAll()];
      const on = (stream: string) => outputs.filter((o) => o.stream === stream).map((o) => o.value);
      expect(on("rejected")).toEqual([]);
      expect(driver.operator.stats()).toMatchObject({ lateTrades: 0, tradesReleasedEarly: 0, quotesBehindWatermark: 0, waitingAccounts: 0 });

      // (a) Every trade has a snapshot, priced with the mark as of its event time.
      const history = markHistory(s.quotes);
      const snapshots = on("risk") as RiskSnapshot[];
      expect(snapshots.map((x) => x.tradeId).sort()).toEqual(s.trades.map((r) => (r.value as Trade).tradeId).sort());
      let priced = 0;
      let disorderedTrades = 0;
      for (const snap of snapshots) {
        expect(snap.ordering).toBeUndefined();
        const symbols = [...snap.positions.map((p) => p.symbol), ...snap.unvalued.map((u) => u.symbol)].sort();
        const expected = symbols.flatMap((symbol) => {
          const m = markAsOf(history, symbol, snap.atMs);
          return m === undefined ? [] : [{ symbol, mark: m.mid, validFromMs: m.t }];
        });
        expect(snap.marks, `snapshot of ${snap.tradeId} at ${snap.atMs}`).toEqual(expected);
        priced++;
      }
      expect(priced).toBe(s.trades.length);
      // The input really was disordered: trades arrived after a quote of a later event time.
      let maxQuote = Number.NEGATIVE_INFINITY;
      for (const r of s.arrival) {
        if (r.value.kind === "quote") maxQuote = Math.max(maxQuote, r.timestampMs);
        else if (r.timestampMs < maxQuote) disorderedTrades++;
      }
      expect(disorderedTrades).toBeGreaterThan(s.trades.length / 4);

      // (b) The last mtm per (account, symbol) is the replay's final figure.
      const last = new Map<string, MtmUpdate>();
      for (const m of on("mtm") as MtmUpdate[]) last.set(`${m.account}|${m.symbol}`, m);
      const books = book(s.trades);
      expect([...last.keys()].sort()).toEqual([...books.keys()].sort());
      for (const [key, b] of books) {
        const symbol = key.split("|")[1]!;
        const inst = instruments.find((i) => i.symbol === symbol)!;
        const scale = inst.contractMultiplier * FX[inst.currency]!;
        const mark = markAsOf(history, symbol, Number.POSITIVE_INFINITY)!.mid;
        const got = last.get(key)!;
        expect(got.quantity, key).toBe(b.qty);
        expect(got.mark, key).toBe(mark);
        const want = { marketValue: b.qty * mark * scale, realisedPnl: b.realisedPoints * scale, unrealisedPnl: (mark - b.avg) * b.qty * scale };
        for (const field of ["marketValue", "realisedPnl", "unrealisedPnl"] as const) {
          expect(relErr(got[field], want[field]), `${key} ${field}: ${got[field]} vs ${want[field]}`).toBeLessThanOrEqual(1e-9);
        }
        expect(relErr(got.totalPnl, want.realisedPnl + want.unrealisedPnl)).toBeLessThanOrEqual(1e-9);
      }
    }, 60_000);
  }
});
