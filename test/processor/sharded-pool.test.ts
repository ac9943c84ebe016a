/**
 * The engine on real worker threads (Piscina), with key affinity: the same results as one thread,
 * each key's results from one shard only, and state restored from the changes a shard reported.
 */
import { afterEach, expect, test } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { HttpAccessLogSchema } from "../../src/events.js";
import { ShardedEnginePool, shardOf } from "../../src/processor/sharded-pool.js";
import { ShardRuntime } from "../../src/processor/shard-runtime.js";
import { jobSpec } from "../../src/processor/jobs.js";
import { packRecords, type RawRecord, type ShardOutput, type StoreChange } from "../../src/processor/thread-messages.js";

const pools: ShardedEnginePool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

const t0 = Date.UTC(2026, 10, 29, 12, 0, 0);
const hosts = ["web-1", "web-2", "api-1", "api-2", "edge-9"];

/** Access-log lines over three minutes, slightly out of order, keyed by host. */
function accessLog(count: number): RawRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const host = hosts[i % hosts.length]!;
    const status = i % 7 === 0 ? 503 : 200;
    const timestampMs = t0 + i * 250 - (i % 4) * 100;
    return { type: HttpAccessLogSchema.typeName, key: host, timestampMs, value: toBinary(HttpAccessLogSchema, create(HttpAccessLogSchema, { host, method: "GET", path: "/", status })) };
  });
}

const byWindow = (outputs: ShardOutput[]) =>
  outputs.map((o) => JSON.stringify([o.stream, o.key, o.value])).sort();

function singleThread(records: RawRecord[], watermarkMs: number): ShardOutput[] {
  const shard = new ShardRuntime(jobSpec("error-rate"));
  return [...shard.run(packRecords(records), undefined).outputs, ...shard.run(undefined, watermarkMs).outputs];
}

test("two worker shards give exactly the single-thread results, each key from its own shard", async () => {
  const records = accessLog(720);
  const end = t0 + 10 * 60_000;
  const pool = new ShardedEnginePool({ job: "error-rate", shards: 2 });
  pools.push(pool);
  const outputs: ShardOutput[] = [];
  for (let i = 0; i < records.length; i += 100) {
    for (const r of await pool.process(records.slice(i, i + 100))) {
      for (const o of r.outputs) {
        expect(shardOf(o.key, 2)).toBe(r.shard);
        outputs.push(o);
      }
    }
  }
  for (const r of await pool.process([], end)) outputs.push(...r.outputs);

  const expected = singleThread(records, end);
  expect(expected.filter((o) => o.stream === "results").length).toBe(hosts.length * 3);
  expect(byWindow(outputs)).toEqual(byWindow(expected));
});

test("a new pool restored from the reported state changes continues as if nothing happened", async () => {
  const records = accessLog(720);
  const end = t0 + 10 * 60_000;
  const first = new ShardedEnginePool({ job: "error-rate", shards: 2 });
  pools.push(first);
  const outputs: ShardOutput[] = [];
  // The changelog: the latest value per shard, store and key.
  const changelog = new Map<number, Map<string, StoreChange>>([[0, new Map()], [1, new Map()]]);
  for (const r of await first.process(records.slice(0, 400))) {
    outputs.push(...r.outputs);
    for (const c of r.changes) changelog.get(r.shard)!.set(`${c[0]}\u0000${c[1]}`, c);
  }
  await first.close();
  pools.pop();

  const second = new ShardedEnginePool({ job: "error-rate", shards: 2 });
  pools.push(second);
  for (const [shard, entries] of changelog) await second.restore(shard, [...entries.values()]);
  for (const r of await second.process(records.slice(400))) outputs.push(...r.outputs);
  for (const r of await second.process([], end)) outputs.push(...r.outputs);

  expect(byWindow(outputs)).toEqual(byWindow(singleThread(records, end)));
});
