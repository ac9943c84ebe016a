/**
 * Engine work on worker threads with key affinity. As in Kafka Streams, the unit of state is a
 * task: one job on one input partition. Partition p always runs on thread p % threads, and Kafka
 * already puts every record of a key on one partition, so all records of a key are processed in
 * order by one thread holding the key's state. One single-thread Piscina pool per thread is the
 * simplest way to pin: Piscina 5's loadBalancer sees only a task's id, filename and handler name,
 * not its payload (docs/decisions/0006). Broadcast inputs (global tables) go to every thread.
 */
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import type { RuntimeJob } from "../jobs/runtime-job.js";
import { WATERMARK_MARKER_TYPE } from "./shard-runtime.js";
import type { TracingSetup } from "../tracing/tracing.js";
import {
  packRecords,
  transferablesOf,
  type LocalState,
  type RawRecord,
  type RestoreStep,
  type ShardResult,
  type ShardTask,
  type StoreChange,
  type WorkerSetup,
} from "./thread-messages.js";

export type ShardedPoolOptions = {
  readonly job: RuntimeJob;
  /** Where the job is defined (module URL or package specifier): every thread imports it. */
  readonly module: string;
  /** The schema image its types come from (undefined: the built-in types). */
  readonly schemaImage?: string;
  /** Worker threads; partition p runs on thread p % threads. */
  readonly threads: number;
  /** Tasks waiting per shard before run() is refused: bounded, like everything else. */
  readonly maxQueue?: number;
  /** Tracing in the worker threads (OTLP endpoint; none: off). */
  readonly tracing?: TracingSetup;
  /** Where the tasks keep their state on disk (a directory per partition); absent: in memory. */
  readonly stateDir?: string;
};

export type ThreadResults = ReadonlyArray<ShardResult & { readonly thread: number }>;

const workerFile = fileURLToPath(new URL("../../workers/engine-worker.mjs", import.meta.url));

export class ShardedEnginePool {
  private readonly job: RuntimeJob;
  private readonly pools: Piscina[];

  constructor(private readonly opts: ShardedPoolOptions) {
    this.job = opts.job;
    const setup: WorkerSetup = {
      jobs: [
        {
          name: opts.job.name,
          module: opts.module,
          options: opts.job.options,
          ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
          ...(opts.job.regions ? { regions: opts.job.regions } : {}),
        },
      ],
      schemaImage: opts.schemaImage,
      tracing: opts.tracing,
    };
    this.pools = Array.from(
      { length: opts.threads },
      () =>
        new Piscina({
          filename: workerFile,
          minThreads: 1,
          maxThreads: 1,
          maxQueue: opts.maxQueue ?? 64,
          idleTimeout: Number.POSITIVE_INFINITY,
          workerData: setup,
          // An idle Piscina worker blocks in Atomics.wait, which would stall its span exports until
          // the next task; with tracing on, workers wait on their message port instead.
          ...(opts.tracing ? { atomics: "disabled" as const } : {}),
        }),
    );
  }

  /** Whether the tasks keep their state on disk. */
  get onDisk(): boolean {
    return this.opts.stateDir !== undefined;
  }

  private async run(thread: number, task: ShardTask, transferList?: ArrayBuffer[]): Promise<ShardResult> {
    return (await this.pools[thread]!.run(task, transferList ? { transferList } : {})) as ShardResult;
  }

  /**
   * Disk state: these tasks' last steps are committed, their changelog records ending before
   * the given offsets. Each thread concerned is told at once, ahead of anything sent to it later
   * (a thread runs its tasks in the order they were sent), and writes those steps to disk.
   */
  async markDurable(ends: ReadonlyMap<number, number>): Promise<void> {
    if (!this.onDisk || ends.size === 0) return;
    const perThread = new Map<number, Array<readonly [number, number]>>();
    for (const [p, offset] of ends) {
      const marks = perThread.get(this.threadOf(p)) ?? [];
      marks.push([p, offset]);
      perThread.set(this.threadOf(p), marks);
    }
    await Promise.all([...perThread].map(([thread, durable]) => this.run(thread, { job: this.job.name, durable })));
  }

  threadOf(partition: number): number {
    return partition % this.pools.length;
  }

  /** Processes a batch (arrival order kept per partition) and returns each thread's outputs and state changes. */
  async process(records: readonly RawRecord[], watermarkMs?: number): Promise<ThreadResults> {
    const perThread = this.pools.map((): RawRecord[] => []);
    for (const r of records) {
      if (r.type === WATERMARK_MARKER_TYPE) {
        perThread[this.threadOf(r.partition)]!.push(r);
        continue;
      }
      const input = this.job.inputs.get(r.type);
      if (!input) continue;
      if (input.kind === "table") for (const list of perThread) list.push(r);
      else perThread[this.threadOf(r.partition)]!.push(r);
    }
    return Promise.all(
      perThread.map(async (list, thread) => {
        const packed = list.length > 0 ? packRecords(list) : undefined;
        const task: ShardTask = { job: this.job.name, ...(packed ? { records: packed } : {}), ...(watermarkMs !== undefined ? { watermarkMs } : {}) };
        const result = await this.run(thread, task, packed ? transferablesOf(packed) : undefined);
        return { ...result, thread };
      }),
    );
  }

  /** Advances the watermarks of some partition tasks (and only theirs); threads with none are not asked. */
  async advance(watermarks: ReadonlyMap<number, number>): Promise<ThreadResults> {
    const perThread = new Map<number, Array<[number, number]>>();
    for (const [p, ms] of watermarks) {
      const list = perThread.get(this.threadOf(p)) ?? [];
      list.push([p, ms]);
      perThread.set(this.threadOf(p), list);
    }
    return Promise.all(
      [...perThread].map(async ([thread, list]) => {
        const result = await this.run(thread, { job: this.job.name, watermarks: list });
        return { ...result, thread };
      }),
    );
  }

  /** Gives a partition task its state, restored from its changelog partition, before it processes more. */
  async restore(partition: number, entries: readonly StoreChange[]): Promise<void> {
    await this.run(this.threadOf(partition), { job: this.job.name, restore: { partition, entries } });
  }

  /** Disk state: where a task's local copy stands. */
  async openLocal(partition: number): Promise<LocalState> {
    return (await this.run(this.threadOf(partition), { job: this.job.name, openLocal: { partition } })).local!;
  }

  /** Disk state: one step of a task's restore; the last one answers with where the task stands. */
  async restoreStep(step: RestoreStep): Promise<LocalState | undefined> {
    return (await this.run(this.threadOf(step.partition), { job: this.job.name, restore: step })).local;
  }

  /** Drops partition tasks revoked in a rebalance. */
  async revoke(partitions: readonly number[]): Promise<void> {
    await Promise.all(this.pools.map((_, thread) => this.run(thread, { job: this.job.name, revoke: partitions.filter((p) => this.threadOf(p) === thread) })));
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close()));
  }
}
