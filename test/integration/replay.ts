/**
 * The engine's own answer for what a job must have produced: each task's input — its partition of
 * the job's input topic (the repartition topic, watermark markers included, for a job keyed unlike
 * its producers), read back from Kafka in offset order — replayed through one in-process task (no
 * threads, no Kafka). Integration tests compare the results topic (read_committed) with it.
 */
import { Kafka, logLevel } from "kafkajs";
import { headers, resultsTopic, tenantKey, type AlertRecord, type WatermarkMarker } from "../../src/kafka-contract.js";
import { sourcePosition } from "../../src/processor/raw-records.js";
import type { RuntimeJob } from "../../src/jobs/runtime-job.js";
import { ShardRuntime, WATERMARK_MARKER_TYPE, type TaskOutput } from "../../src/processor/shard-runtime.js";
import type { RawRecord } from "../../src/processor/thread-messages.js";
import { readTopics, waitFor, type ReadRecord } from "./support.js";

/** Records of a topic by partition, in offset order, as the job's tasks take them. */
export function byPartition(records: readonly ReadRecord[], accepts: (type: string) => boolean, global = false): Map<number, RawRecord[]> {
  const out = new Map<number, RawRecord[]>();
  for (const r of [...records].sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))) {
    const marker = !global && r.headers["weir.control"] === "watermark";
    const type = marker ? WATERMARK_MARKER_TYPE : (r.headers["weir.type"] ?? "");
    if (!marker && !accepts(type)) continue;
    const tenant = r.headers["weir.tenant"] ?? "";
    const key = global || !tenant ? r.key : tenantKey(tenant, r.key);
    const raw: RawRecord = { type, partition: r.partition, key, tenant, timestampMs: Number(r.timestamp), value: r.value };
    if (!out.has(r.partition)) out.set(r.partition, []);
    // A re-keyed record carries where it came from, as the processor reads it: a task applies each
    // source position once, so a copy the repartition step's producer wrote twice is skipped here too.
    const position = global ? { source: `${r.topic}/${r.partition}`, offset: Number(r.offset) } : sourcePosition(r.headers[headers.source]);
    out.get(r.partition)!.push(position ? { ...raw, ...position } : raw);
  }
  return out;
}

export type Output = { partition: number; stream: string; key: string; value: unknown };

/** The job's outputs as the results topic holds them, per partition in offset order. */
export async function resultsOf(brokers: string, job: string): Promise<Output[]> {
  const records = await readTopics(brokers, [resultsTopic(job)]);
  return records
    .sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))
    .map((r) => ({ partition: r.partition, stream: r.headers["weir.stream"]!, key: r.key, value: JSON.parse(r.value.toString()) as unknown }));
}

/** One in-process task per partition, fed `phases` in order: the engine's own answer. */
export function replay(job: RuntimeJob, partitions: Iterable<number>, phases: ReadonlyArray<(p: number) => readonly RawRecord[]>): Output[] {
  const out: Output[] = [];
  for (const p of [...partitions].sort((a, b) => a - b)) {
    const task = new ShardRuntime(job, [], p);
    for (const phase of phases) {
      for (const r of phase(p)) {
        const produced: TaskOutput[] = [];
        const record = { type: r.type, key: r.key, tenant: r.tenant, payload: r.value, timestampMs: r.timestampMs };
        task.process(record, produced, r.source !== undefined ? { name: r.source, offset: r.offset! } : undefined);
        out.push(...produced.map((o) => ({ partition: p, stream: o.stream, key: o.key, value: o.value })));
      }
    }
  }
  return out;
}

/** The partition numbers of a topic. */
export async function partitionsOf(brokers: string, topic: string): Promise<number[]> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((o) => o.partition);
  } finally {
    await admin.disconnect();
  }
}

/** The alerts among a job's outputs (their ids do not depend on the output timestamp). */
export function alertsOf(job: RuntimeJob, outputs: readonly Output[]): AlertRecord[] {
  return outputs.map((o) => job.alertOf({ ...o, timestampMs: 0 })).filter((a): a is AlertRecord => a !== undefined);
}

/**
 * Waits until every partition of `source` has gone idle on a job's repartition topic (its latest
 * watermark marker says so): the input has ended and the tasks' windows and patterns have closed
 * as far as the job's idle policy closes them. Repartition input is final from then on.
 */
export async function waitForIdleSources(brokers: string, repartition: string, source: string): Promise<void> {
  const sourcePartitions = await partitionsOf(brokers, source);
  await waitFor(
    async () => {
      const latest = new Map<string, WatermarkMarker>();
      for (const r of await readTopics(brokers, [repartition])) {
        if (r.partition !== 0 || r.headers["weir.control"] !== "watermark") continue;
        const m = JSON.parse(r.value.toString()) as WatermarkMarker;
        latest.set(m.source, m);
      }
      return sourcePartitions.every((p) => latest.get(`${source}/${p}`)?.idle === true);
    },
    `every source of ${repartition} idle`,
    120_000,
  );
}
