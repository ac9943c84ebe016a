/**
 * Piscina worker entry. A thread runs the tasks (job × input partition) routed to it and keeps
 * their state between calls — that is the point of affinity, so module-level state is deliberate.
 */
import { threadId } from "node:worker_threads";
import { SpanKind } from "@opentelemetry/api";
import { workerData } from "piscina";
import { contextOf, isSampled, startTracing, traceparentOf, weirTracer } from "../src/tracing/tracing.js";
import { ShardRuntime, type TaskOutput } from "../src/processor/shard-runtime.js";
import { SchemaRegistry } from "../src/schema/registry.js";
import { loadJobs } from "../src/jobs/load-jobs.js";
import { RuntimeJob } from "../src/jobs/runtime-job.js";
import { unpackRecords, type LocalState, type ShardOutput, type ShardResult, type ShardTask, type WorkerSetup } from "../src/processor/thread-messages.js";
import { LmdbTaskState } from "../src/adapters/state/lmdb-task-state.js";
import { GLOBAL_POSITIONS_STORE } from "../src/processor/shard-runtime.js";
import { JOB_IDENTITY_STORE } from "../src/jobs/runtime-job.js";

/** job → partition → task */
const tasks = new Map<string, Map<number, ShardRuntime>>();
/** Set by the pool (ShardedEnginePool) for every thread alike: see WorkerSetup. */
const data = workerData as WorkerSetup;
// The jobs this thread runs: their modules imported here, bound to the same schema image and options as in the processor.
const registry = data.schemaImage ? SchemaRegistry.fromFile(data.schemaImage) : SchemaRegistry.builtin();
const loaded = await loadJobs(data.jobs.map((j) => j.module));
const runtimes = new Map(
  data.jobs.map((j) => {
    const found = loaded.get(j.name);
    if (!found) throw new Error(`worker: module ${j.module} has no job ${j.name}`);
    return [j.name, RuntimeJob.resolve(found.job, j.options, registry, j.regions)] as const;
  }),
);
// A worker thread has its own tracer provider: spans are exported as they end (threads end unflushed).
await startTracing(data.tracing, { serviceName: "weir-engine", exportEachSpan: true });

/** Jobs whose tasks keep their state on disk: job → directory (a subdirectory per partition). */
const stateDirs = new Map(data.jobs.flatMap((j) => (j.stateDir ? [[j.name, j.stateDir] as const] : [])));
/** job → partition → the task's state on disk, kept open while the thread lives (a revoked task may come back). */
const localStates = new Map<string, Map<number, LmdbTaskState>>();

function localStateOf(job: string, partition: number): LmdbTaskState {
  let byPartition = localStates.get(job);
  if (!byPartition) localStates.set(job, (byPartition = new Map<number, LmdbTaskState>()));
  let state = byPartition.get(partition);
  if (!state) byPartition.set(partition, (state = LmdbTaskState.open(`${stateDirs.get(job)!}/${partition}`)));
  return state;
}

/** Where a task's local copy stands, with what the processor reads of a restored state. */
function localView(state: LmdbTaskState): LocalState {
  const checkpoint = state.checkpoint();
  return {
    ...(checkpoint ? { checkpoint: checkpoint.changelogOffset, checkpointAtMs: checkpoint.writtenAtMs } : {}),
    entries: state.entriesOf([JOB_IDENTITY_STORE, GLOBAL_POSITIONS_STORE]),
  };
}

function tasksOf(job: string): Map<number, ShardRuntime> {
  let byPartition = tasks.get(job);
  if (!byPartition) tasks.set(job, (byPartition = new Map<number, ShardRuntime>()));
  return byPartition;
}

/** Runs one traced record under an engine span; the outputs it causes carry that span onward. */
function traced(job: string, traceparent: string, outputs: ShardOutput[], run: () => void): void {
  const span = weirTracer().startSpan(
    `weir.engine ${job}`,
    { kind: SpanKind.INTERNAL, attributes: { "weir.job": job, "weir.thread": threadId } },
    contextOf(traceparent),
  );
  const first = outputs.length;
  try {
    run();
  } finally {
    const tp = traceparentOf(span);
    for (let i = first; i < outputs.length; i++) outputs[i] = { ...outputs[i]!, traceparent: tp };
    span.setAttribute("weir.outputs", outputs.length - first);
    span.end();
  }
}

export default function runShardTask(task: ShardTask): ShardResult {
  const runtime = runtimes.get(task.job);
  if (!runtime) throw new Error(`worker: no job ${task.job}`);
  const byPartition = tasksOf(task.job);
  const onDisk = localStates.get(task.job);
  for (const [p, changelogOffset] of task.durable ?? []) onDisk?.get(p)?.flush(changelogOffset);
  for (const p of task.revoke ?? []) {
    byPartition.delete(p);
    onDisk?.get(p)?.discardPending();
  }
  let local: LocalState | undefined;
  if (task.openLocal) local = localView(localStateOf(task.job, task.openLocal.partition));
  const restore = task.restore;
  if (restore && !stateDirs.has(task.job)) byPartition.set(restore.partition, new ShardRuntime(runtime, restore.entries, restore.partition));
  else if (restore) {
    byPartition.delete(restore.partition);
    const state = localStateOf(task.job, restore.partition);
    state.discardPending();
    if (restore.mode === "replace") state.clear();
    state.applyCommitted(restore.entries, restore.done ? restore.changelogOffset : undefined);
    if (restore.done) {
      byPartition.set(restore.partition, new ShardRuntime(runtime, [], restore.partition, state));
      local = localView(state);
    }
  }
  const taskFor = (partition: number) => {
    let t = byPartition.get(partition);
    if (!t) byPartition.set(partition, (t = new ShardRuntime(runtime, [], partition)));
    return t;
  };

  const outputs: ShardOutput[] = [];
  const collect = (partition: number, run: (out: TaskOutput[]) => void) => {
    const out: TaskOutput[] = [];
    run(out);
    for (const o of out) outputs.push({ partition, ...o });
  };
  if (task.records) {
    for (const r of unpackRecords(task.records)) {
      // Global-table inputs (reference data, quotes) reach every task of the job on this thread.
      const targets = runtime.isTable(r.type) ? [...byPartition.keys()] : [r.partition];
      const source = r.source !== undefined ? { name: r.source, offset: r.offset! } : undefined;
      const run = () => {
        for (const p of targets)
          collect(p, (out) =>
            taskFor(p).process(
              { type: r.type, key: r.key, tenant: r.tenant, payload: r.value, timestampMs: r.timestampMs, ...(r.id ? { id: r.id } : {}) },
              out,
              source,
            ),
          );
      };
      if (!isSampled(r.traceparent)) run();
      else traced(task.job, r.traceparent, outputs, run);
    }
  }
  if (task.watermarkMs !== undefined) {
    for (const [p, t] of byPartition) collect(p, (out) => t.advanceWatermark(task.watermarkMs!, out));
  }
  for (const [p, watermarkMs] of task.watermarks ?? []) {
    const t = byPartition.get(p);
    if (t) collect(p, (out) => t.advanceWatermark(watermarkMs, out));
  }
  const changes = [...byPartition].map(([partition, t]) => ({ partition, changes: t.takeChanges() })).filter((c) => c.changes.length > 0);
  return { outputs, changes, ...(local ? { local } : {}) };
}
