/**
 * The engine on real worker threads (Piscina), one task per input partition: the same results as
 * running every task on one thread, each partition's results from the thread that owns it, and a
 * partition's state restored from the changes reported for it (its changelog partition). The job
 * is the error-rate example, keyed by host: its tasks read the repartition topic, so event time
 * reaches them as watermark markers of the source partitions, routed like records.
 */
import { afterEach, beforeAll, expect, test } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { HttpAccessLogSchema } from "../../src/events.js";
import { tenantKey, type WatermarkMarker } from "../../src/kafka-contract.js";
import { ShardedEnginePool } from "../../src/processor/sharded-pool.js";
import { ShardRuntime, WATERMARK_MARKER_TYPE, type TaskOutput } from "../../src/processor/shard-runtime.js";
import type { RawRecord, ShardOutput, StoreChange } from "../../src/processor/thread-messages.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";
import type { ConfiguredJob } from "../../src/processor/jobs.js";

const pools: ShardedEnginePool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

let errorRate: ConfiguredJob;
beforeAll(async () => {
  errorRate = await exampleJob("error-rate");
});
const newPool = (threads: number) => {
  const pool = new ShardedEnginePool({ job: errorRate.runtime, module: errorRate.module, threads });
  pools.push(pool);
  return pool;
};

const TENANT = "acme";
const t0 = Date.UTC(2026, 10, 29, 12, 0, 0);
const hosts = ["web-1", "web-2", "api-1", "api-2", "edge-9"];
const partitionOf = (host: string) => hosts.indexOf(host) % 3; // as if the repartition topic had 3 partitions
const end = t0 + 10 * 60_000;

/** Access-log lines over three minutes, slightly out of order, keyed (and partitioned) by host. */
function accessLog(count: number): RawRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const host = hosts[i % hosts.length]!;
    const status = i % 7 === 0 ? 503 : 200;
    return {
      type: HttpAccessLogSchema.typeName,
      partition: partitionOf(host),
      key: tenantKey(TENANT, host),
      tenant: TENANT,
      timestampMs: t0 + i * 250 - (i % 4) * 100,
      value: toBinary(HttpAccessLogSchema, create(HttpAccessLogSchema, { host, method: "GET", path: "/", status })),
    };
  });
}

/** A source partition's progress as the repartition step writes it to one partition of the repartition topic. */
function marker(partition: number, m: WatermarkMarker): RawRecord {
  return {
    type: WATERMARK_MARKER_TYPE,
    partition,
    key: "",
    tenant: "",
    timestampMs: m.maxEventTimeMs ?? 0,
    value: new TextEncoder().encode(JSON.stringify(m)),
  };
}

/**
 * The lines as the tasks read them: after every 100 lines, each of the two source partitions the
 * lines came from (even and odd lines) marks how far it got on all three partitions, so windows
 * close while records still flow, as they do in production.
 */
function accessLogWithMarkers(count: number): RawRecord[] {
  const out: RawRecord[] = [];
  const reached = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  accessLog(count).forEach((r, i) => {
    out.push(r);
    reached[i % 2] = Math.max(reached[i % 2]!, r.timestampMs);
    if ((i + 1) % 100 !== 0) return;
    for (const [s, maxEventTimeMs] of reached.entries()) for (const p of [0, 1, 2]) out.push(marker(p, { source: `access-logs/${s}`, of: 2, maxEventTimeMs }));
  });
  return out;
}

const canonical = (outputs: ReadonlyArray<{ partition: number; stream: string; key: string; value: unknown }>) =>
  outputs.map((o) => JSON.stringify([o.partition, o.stream, o.key, o.value])).sort();

/** Every partition task on this thread, in arrival order: the reference result. */
function inOneThread(records: RawRecord[]): ShardOutput[] {
  const tasks = new Map<number, ShardRuntime>();
  const outputs: ShardOutput[] = [];
  const run = (partition: number, f: (t: ShardRuntime, out: TaskOutput[]) => void) => {
    if (!tasks.has(partition)) tasks.set(partition, new ShardRuntime(errorRate.runtime));
    const out: TaskOutput[] = [];
    f(tasks.get(partition)!, out);
    outputs.push(...out.map((o) => ({ partition, ...o })));
  };
  for (const r of records)
    run(r.partition, (t, out) => t.process({ type: r.type, key: r.key, tenant: r.tenant, payload: r.value, timestampMs: r.timestampMs }, out));
  for (const p of [...tasks.keys()]) run(p, (t, out) => t.advanceWatermark(end, out));
  return outputs;
}

test("two worker threads give exactly the one-thread results, each partition from its own thread", async () => {
  const records = accessLogWithMarkers(720);
  const pool = newPool(2);
  const outputs: ShardOutput[] = [];
  const collect = (results: Awaited<ReturnType<ShardedEnginePool["process"]>>) => {
    for (const r of results) {
      for (const o of r.outputs) {
        expect(pool.threadOf(o.partition)).toBe(r.thread);
        outputs.push(o);
      }
    }
  };
  for (let i = 0; i < records.length; i += 100) collect(await pool.process(records.slice(i, i + 100)));
  // The markers closed minutes 0 and 1 while records flowed; the end of the input closes minute 2.
  expect(outputs.filter((o) => o.stream === "results").length).toBe(hosts.length * 2);
  collect(await pool.process([], end));

  const expected = inOneThread(records);
  expect(expected.filter((o) => o.stream === "results").length).toBe(hosts.length * 3);
  expect(canonical(outputs)).toEqual(canonical(expected));
}, 60_000);

test("a new pool restored from each partition's reported changes continues as if nothing happened", async () => {
  const records = accessLogWithMarkers(720);
  const first = newPool(2);
  const outputs: ShardOutput[] = [];
  // The changelog: per partition, the latest value per store and key (what compaction keeps).
  const changelog = new Map<number, Map<string, StoreChange>>();
  for (const r of await first.process(records.slice(0, 400))) {
    outputs.push(...r.outputs);
    for (const { partition, changes } of r.changes) {
      if (!changelog.has(partition)) changelog.set(partition, new Map());
      for (const c of changes) changelog.get(partition)!.set(`${c[0]}\u0000${c[1]}`, c);
    }
  }
  expect([...changelog.keys()].sort()).toEqual([0, 1, 2]);
  await first.close();
  pools.pop();

  // Partitions move: three threads now, so partition 2 lands on another thread than before.
  const second = newPool(3);
  for (const [partition, entries] of changelog) await second.restore(partition, [...entries.values()]);
  for (const r of await second.process(records.slice(400))) outputs.push(...r.outputs);
  for (const r of await second.process([], end)) outputs.push(...r.outputs);

  expect(canonical(outputs)).toEqual(canonical(inOneThread(records)));
}, 60_000); // five worker threads start here: slow on a loaded machine

test("advance() moves only the given partition tasks' watermarks: their windows close, the others stay open", async () => {
  const pool = newPool(2);
  await pool.process(accessLog(120)); // 30 s of traffic in minute 0 on partitions 0, 1 and 2
  const results = await pool.advance(new Map([[1, t0 + 2 * 60_000]]));
  const finals = results.flatMap((r) => r.outputs).filter((o) => (o.value as { kind?: string }).kind === "final");
  expect(new Set(finals.map((o) => o.partition))).toEqual(new Set([1]));
  expect(finals.map((o) => o.key).sort()).toEqual(
    hosts
      .filter((h) => partitionOf(h) === 1)
      .map((h) => tenantKey(TENANT, h))
      .sort(),
  );
  // Only partition 1's thread was asked, and only its state changed.
  expect(results.flatMap((r) => r.changes.map((c) => c.partition))).toEqual([1]);
});
