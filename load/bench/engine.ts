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
import { tenantKey } from "../../src/kafka-contract.js";
import type { RawRecord } from "../../src/processor/thread-messages.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { cardFeed } from "../../src/generators/card.js";
import { marketFeed, referenceEvents } from "../../src/generators/market.js";
import { createRng } from "../../src/generators/rng.js";

const PARTITIONS = 6;

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

export async function engineRate(job: string, threads: number, records: readonly RawRecord[], batch = 500): Promise<{ eventsPerSec: number; outputs: number }> {
  const [configured] = await configuredJobs({ processorJobs: [`weir/examples/jobs/${job}`], jobOptions: {}, schemaImage: "" });
  const pool = new ShardedEnginePool({ job: configured!.runtime, module: configured!.module, threads });
  try {
    await pool.process(records.slice(0, batch)); // warm-up: threads, module loading, JIT
    let outputs = 0;
    const started = performance.now();
    // Up to `threads` batches in flight, as a consumer would pipeline them.
    const inFlight: Array<Promise<unknown>> = [];
    for (let i = batch; i < records.length; i += batch) {
      inFlight.push(pool.process(records.slice(i, i + batch)).then((rs) => rs.forEach((r) => (outputs += r.outputs.length))));
      if (inFlight.length >= threads) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - started) / 1000;
    return { eventsPerSec: (records.length - batch) / seconds, outputs };
  } finally {
    await pool.close();
  }
}
