/**
 * Global-table inputs on real worker threads: the job's options reach every thread (the risk-limits
 * example's limits, from WEIR_JOB_OPTIONS), a broadcast record reaches every task on every thread,
 * and a task applies a record of a source at most once, also when it is offered again (a catch-up
 * after a restore).
 *
 * The risk job applies a trade only once both the trade and the quote watermarks have passed it
 * (so it is priced with the mark as of its event time): here event time is moved on by hand, as
 * the repartition step's watermark markers or the idle policy would.
 */
import { afterEach, expect, test } from "vitest";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { InstrumentSchema, QuoteSchema, Side, TradeSchema } from "../../src/events.js";
import { ShardedEnginePool, type ThreadResults } from "../../src/processor/sharded-pool.js";
import type { RawRecord } from "../../src/processor/thread-messages.js";
import { tenantKey } from "../../src/kafka-contract.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";

const pools: ShardedEnginePool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

const t0 = Date.UTC(2026, 10, 29, 9, 0, 0);
/** Publishes reference data and quotes (the job's default marketDataTenants). */
const MARKET = "demo";
/** Owns the accounts. */
const TENANT = "acme";
let offset = 0;
/** A global (table) record when it has a source, else a partitioned one of TENANT's. */
function record<D extends DescMessage>(schema: D, init: MessageInitShape<D>, key: string, partition: number, source?: string): RawRecord {
  const value = toBinary(schema, create(schema, init));
  const timestampMs = t0 + offset * 1000;
  if (source) return { type: schema.typeName, partition, key, tenant: MARKET, timestampMs, value, source, offset: offset++ };
  offset++;
  return { type: schema.typeName, partition, key: tenantKey(TENANT, key), tenant: TENANT, timestampMs, value };
}

async function riskPool(threads: number): Promise<ShardedEnginePool> {
  const { runtime, module } = await exampleJob("risk-limits", { limits: { default: { maxGrossExposure: 50_000 } } });
  const pool = new ShardedEnginePool({ job: runtime, module, threads });
  pools.push(pool);
  return pool;
}

const outputs = (results: ThreadResults) => results.flatMap((r) => r.outputs);

/** Event time just past `timestampMs` on every task: a trade at t waits until the quote watermark is past t (a quote AT t is still on time). */
const pastOf = (records: readonly RawRecord[]) => Math.max(...records.map((r) => r.timestampMs)) + 1;

test("job options on every thread; global records reach every task once", async () => {
  const pool = await riskPool(2);
  for (const p of [0, 1, 2, 3]) await pool.restore(p, []);

  const globals = [
    record(InstrumentSchema, { symbol: "ACME", sector: "tech", currency: "USD", contractMultiplier: 1 }, "ACME", 0, "weir.reference.instrument/0"),
    record(QuoteSchema, { symbol: "ACME", bid: 99, ask: 101, venue: "X" }, "ACME", 0, "weir.events.quote/0"),
  ];
  expect(outputs(await pool.process(globals))).toEqual([]);

  // One account per partition, 0..3 (threads 0 and 1 each hold two tasks): 600 x 100 = 60k > 50k.
  const trades = [0, 1, 2, 3].map((p) =>
    record(TradeSchema, { tradeId: `t${p}`, accountId: `acct-${p}`, symbol: "ACME", side: Side.BUY, quantity: 600, price: 100 }, `acct-${p}`, p),
  );
  // Held until event time passes them; then each task's account breaches, on its own partition.
  expect(outputs(await pool.process(trades))).toEqual([]);
  const breaches = outputs(await pool.process([], pastOf(trades))).filter((o) => o.stream === "breaches");
  expect(breaches.map((o) => [o.partition, o.key, (o.value as { type: string }).type]).sort()).toEqual(
    [0, 1, 2, 3].map((p) => [p, tenantKey(TENANT, `acct-${p}`), "breach"]),
  );

  // The same global records offered again change nothing: every task has applied them.
  const again = await pool.process(globals);
  expect(outputs(again)).toEqual([]);
  expect(again.flatMap((r) => r.changes)).toEqual([]);

  // A quote collapse (next offset of that source) reaches every task: all four accounts clear.
  const crash = [record(QuoteSchema, { symbol: "ACME", bid: 49, ask: 51, venue: "X" }, "ACME", 0, "weir.events.quote/0")];
  const cleared = outputs(await pool.process(crash, pastOf(crash))).filter((o) => o.stream === "breaches");
  expect(cleared.map((o) => [o.key, (o.value as { type: string }).type]).sort()).toEqual([0, 1, 2, 3].map((p) => [tenantKey(TENANT, `acct-${p}`), "cleared"]));
}, 60_000);

test("a task restored with its global positions skips what it had applied and takes what it had not", async () => {
  const pool = await riskPool(1);
  await pool.restore(0, []);
  const instrument = record(
    InstrumentSchema,
    { symbol: "ZED", sector: "energy", currency: "USD", contractMultiplier: 1 },
    "ZED",
    0,
    "weir.reference.instrument/0",
  );
  const quote1 = record(QuoteSchema, { symbol: "ZED", bid: 10, ask: 10 }, "ZED", 0, "weir.events.quote/0");
  const first = await pool.process([instrument, quote1]);
  const changes = first.flatMap((r) => r.changes).flatMap((c) => c.changes);
  expect(
    changes
      .filter(([store]) => store === "__global_positions")
      .map(([, k, v]) => [k, v])
      .sort(),
  ).toEqual(
    [
      ["weir.events.quote/0", quote1.offset],
      ["weir.reference.instrument/0", instrument.offset],
    ].sort(),
  );

  // A fresh pool restored from those changes: the replayed quote1 is skipped, quote2 applied.
  const second = await riskPool(1);
  await second.restore(0, changes);
  const quote2 = record(QuoteSchema, { symbol: "ZED", bid: 200, ask: 200 }, "ZED", 0, "weir.events.quote/0");
  const replay = await second.process([quote1, quote2]);
  const positions = replay
    .flatMap((r) => r.changes)
    .flatMap((c) => c.changes)
    .filter(([store]) => store === "__global_positions");
  expect(positions).toEqual([["__global_positions", "weir.events.quote/0", quote2.offset]]);
  // And the mark is quote2's: 300 x 200 = 60k breaches, which quote1's mark (3k) would not.
  const trade = record(TradeSchema, { tradeId: "z1", accountId: "acct-z", symbol: "ZED", side: Side.BUY, quantity: 300, price: 10 }, "acct-z", 0);
  const out = outputs(await second.process([trade], pastOf([trade]))).filter((o) => o.stream === "breaches");
  expect(out.map((o) => (o.value as { type: string; value: number }).type)).toEqual(["breach"]);
}, 60_000);
