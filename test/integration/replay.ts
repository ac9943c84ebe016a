/**
 * The engine's own answer for what a job must have produced: each input partition's records, read
 * back from Kafka in offset order, replayed through one in-process task (no threads, no Kafka).
 * Integration tests compare the results topic (read_committed) with it.
 */
import { Kafka, logLevel } from "kafkajs";
import { alertOf } from "../../src/processor/alerts.js";
import { type AlertRecord } from "../../src/kafka-contract.js";
import { jobSpec, type JobOptions } from "../../src/processor/jobs.js";
import { resultsTopic } from "../../src/kafka-contract.js";
import { ShardRuntime, type TaskOutput } from "../../src/processor/shard-runtime.js";
import type { RawRecord } from "../../src/processor/thread-messages.js";
import { tenantKey } from "../../src/kafka-contract.js";
import { readTopics, type ReadRecord } from "./support.js";

/** Records of a topic by partition, in offset order, as the job's tasks take them. */
export function byPartition(records: readonly ReadRecord[], accepts: (type: string) => boolean, global = false): Map<number, RawRecord[]> {
  const out = new Map<number, RawRecord[]>();
  for (const r of [...records].sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))) {
    const type = r.headers["weir.type"] ?? "";
    if (!accepts(type)) continue;
    const tenant = r.headers["weir.tenant"];
    const key = global || !tenant ? r.key : tenantKey(tenant, r.key);
    const raw: RawRecord = { type, partition: r.partition, key, timestampMs: Number(r.timestamp), value: r.value };
    if (!out.has(r.partition)) out.set(r.partition, []);
    out.get(r.partition)!.push(global ? { ...raw, source: `${r.topic}/${r.partition}`, offset: Number(r.offset) } : raw);
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
export function replay(
  job: string,
  jobOptions: JobOptions,
  partitions: Iterable<number>,
  phases: ReadonlyArray<(p: number) => readonly RawRecord[]>,
): Output[] {
  const spec = jobSpec(job);
  const out: Output[] = [];
  for (const p of [...partitions].sort((a, b) => a - b)) {
    const task = new ShardRuntime(spec, [], jobOptions);
    for (const phase of phases) {
      for (const r of phase(p)) {
        const produced: TaskOutput[] = [];
        task.process(r.type, r.key, r.value, r.timestampMs, produced, r.source !== undefined ? { name: r.source, offset: r.offset! } : undefined);
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
export function alertsOf(job: string, outputs: readonly Output[]): AlertRecord[] {
  return outputs.map((o) => alertOf(job, { ...o, timestampMs: 0 })).filter((a): a is AlertRecord => a !== undefined);
}
