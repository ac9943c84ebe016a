/**
 * Engine throughput on worker threads: each scenario job over records from the shared traffic
 * generators, run through ShardedEnginePool with 1 and N threads (6 input partitions), in
 * batches of 500 as the processor would hand them over. No Kafka: this is the engine's own rate.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { ShardedEnginePool } from "../../src/processor/sharded-pool.js";
import { configuredJobs } from "../../src/processor/jobs.js";
import { partitionOf } from "../../src/jobs/partitioner.js";
import { splitTenantKey, tenantKey, type WatermarkMarker } from "../../src/kafka-contract.js";
import type { RuntimeJob } from "../../src/jobs/runtime-job.js";
import type { RawRecord } from "../../src/processor/thread-messages.js";
import { WATERMARK_MARKER_TYPE } from "../../src/processor/shard-runtime.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { cardFeed } from "../../src/generators/card.js";
import { marketFeed, referenceEvents } from "../../src/generators/market.js";
import { createRng } from "../../src/generators/rng.js";

const PARTITIONS = 6;
const IDLE_LAG_MS = 30_000;

/** The generators key each event by its job's key (host, card, account), so records go straight to their task. */
function toRaw(env: Envelope): RawRecord {
  const key = env.partitionKey || env.id;
  return {
    type: env.type,
    partition: partitionOf(key, PARTITIONS),
    key: tenantKey(TENANT, key),
    tenant: TENANT,
    timestampMs: timestampMs(env.eventTime!),
    value: env.payload,
  };
}

const TENANT = "demo";

export function engineWorkload(job: string, count: number): RawRecord[] {
  const rng = createRng(5);
  const baseTimeMs = Date.UTC(2026, 10, 29);
  const out: Envelope[] = [];
  if (job === "error-rate") for (let i = 0; out.length < count; i++) out.push(accessLogEvent(rng, i, { baseTimeMs }));
  else if (job === "fraud") out.push(...cardFeed(rng, count, { baseTimeMs, fraudRate: 0.01 }));
  else {
    out.push(...referenceEvents(baseTimeMs));
    const feed = marketFeed(rng, baseTimeMs);
    for (let i = 0; out.length < count; i++) out.push(feed.next(i));
  }
  return out.slice(0, count).map(toRaw);
}

/**
 * A repartitioned job's tasks take their event time from the repartition step's watermark
 * markers, not from their records: after each batch, one marker per task partition with the
 * batch's highest event time, as the repartition step writes them (one source here: the bench
 * hands over the records already keyed by the job's key).
 */
function withMarkers(batch: readonly RawRecord[]): RawRecord[] {
  let maxEventTimeMs = Number.NEGATIVE_INFINITY;
  for (const r of batch) if (r.type !== WATERMARK_MARKER_TYPE && r.timestampMs > maxEventTimeMs) maxEventTimeMs = r.timestampMs;
  const value = new TextEncoder().encode(JSON.stringify({ source: "bench/0", of: 1, maxEventTimeMs } satisfies WatermarkMarker));
  const markers = Array.from({ length: PARTITIONS }, (_, partition) => ({
    type: WATERMARK_MARKER_TYPE,
    partition,
    key: "",
    tenant: "",
    timestampMs: maxEventTimeMs,
    value,
  }));
  return [...batch, ...markers];
}

/**
 * Table records as the processor hands them to the tasks: the key as produced, the partition of
 * the table's topic it sits on, and its position there (the tables' watermarks follow the
 * positions: a versioned table's readers wait until every source partition has been heard from).
 */
function asTasksTakeThem(job: RuntimeJob, records: readonly RawRecord[]): RawRecord[] {
  const offsets = new Map<string, number>();
  return records.map((r) => {
    const input = job.inputs.get(r.type);
    if (input?.kind !== "table") return r;
    const key = splitTenantKey(r.key)?.key ?? r.key;
    const partition = partitionOf(key, input.partitions);
    const source = `${input.topic}/${partition}`;
    const offset = offsets.get(source) ?? 0;
    offsets.set(source, offset + 1);
    return { ...r, key, partition, source, offset };
  });
}

export async function engineRate(
  job: string,
  threads: number,
  workload: readonly RawRecord[],
  batch = 500,
): Promise<{ eventsPerSec: number; outputs: number }> {
  const [configured] = await configuredJobs({ processorJobs: [`weir/examples/jobs/${job}`], jobOptions: {}, schemaImage: "" });
  const pool = new ShardedEnginePool({ job: configured!.runtime, module: configured!.module, threads });
  const records = asTasksTakeThem(configured!.runtime, workload);
  // A table partition that never gets a record (risk: 5 symbols over 6 quote partitions) holds
  // its readers back until the processor's idle advance moves them on, 30 s behind the newest
  // record; the bench advances the same way after each batch.
  const hasTables = [...configured!.runtime.inputs.values()].some((i) => i.kind === "table");
  // The batches as the processor would hand them over, made before the clock starts.
  const batches: Array<{ records: RawRecord[]; idleWatermarkMs: number | undefined }> = [];
  for (let from = 0; from < records.length; from += batch) {
    const part = records.slice(from, from + batch);
    const maxEventTimeMs = part.reduce((max, r) => Math.max(max, r.timestampMs), Number.NEGATIVE_INFINITY);
    batches.push({
      records: configured!.runtime.repartition ? withMarkers(part) : part,
      idleWatermarkMs: hasTables ? maxEventTimeMs - IDLE_LAG_MS : undefined,
    });
  }
  try {
    const [warmUp, ...timed] = batches;
    await pool.process(warmUp!.records, warmUp!.idleWatermarkMs); // threads, module loading, JIT
    let outputs = 0;
    const started = performance.now();
    // Up to `threads` batches in flight, as a consumer would pipeline them.
    const inFlight: Array<Promise<unknown>> = [];
    for (const b of timed) {
      inFlight.push(pool.process(b.records, b.idleWatermarkMs).then((rs) => rs.forEach((r) => (outputs += r.outputs.length))));
      if (inFlight.length >= threads) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - started) / 1000;
    return { eventsPerSec: (records.length - batch) / seconds, outputs };
  } finally {
    await pool.close();
  }
}
