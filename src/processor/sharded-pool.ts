/**
 * Engine work on worker threads with key affinity: one single-thread Piscina pool per shard, and
 * a record goes to the shard of its key (FNV-1a), so all records of a key are processed in order
 * by one thread that holds the key's state. Broadcast inputs (reference data) go to every shard.
 * A single-thread pool per shard is the simplest way to pin: Piscina 5's loadBalancer sees only
 * a task's id, filename and handler name, not its payload (docs/decisions/0006).
 */
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { jobSpec, type JobSpec } from "./jobs.js";
import { packRecords, transferablesOf, type RawRecord, type ShardResult, type ShardTask, type StoreChange } from "./thread-messages.js";

export type ShardedPoolOptions = {
  readonly job: string;
  readonly shards: number;
  /** Tasks waiting per shard before run() is refused: bounded, like everything else. */
  readonly maxQueue?: number;
};

export type ShardResults = ReadonlyArray<ShardResult & { readonly shard: number }>;

const workerFile = fileURLToPath(new URL("../../workers/engine-worker.mjs", import.meta.url));

/** FNV-1a over the key's UTF-16 code units: stable across processes and runs. */
export function shardOf(key: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}

export class ShardedEnginePool {
  private readonly spec: JobSpec;
  private readonly pools: Piscina[];

  constructor(private readonly opts: ShardedPoolOptions) {
    this.spec = jobSpec(opts.job);
    this.pools = Array.from(
      { length: opts.shards },
      () => new Piscina({ filename: workerFile, minThreads: 1, maxThreads: 1, maxQueue: opts.maxQueue ?? 64, idleTimeout: Number.POSITIVE_INFINITY }),
    );
  }

  get shards(): number {
    return this.pools.length;
  }

  /** Processes a batch (arrival order is kept per shard) and returns each shard's outputs and state changes. */
  async process(records: readonly RawRecord[], watermarkMs?: number): Promise<ShardResults> {
    const perShard = this.pools.map((): RawRecord[] => []);
    for (const r of records) {
      const input = this.spec.inputs[r.type];
      if (!input) continue;
      if (input.broadcast) for (const list of perShard) list.push(r);
      else perShard[shardOf(r.key, this.shards)]!.push(r);
    }
    return Promise.all(
      perShard.map(async (list, shard) => {
        const packed = list.length > 0 ? packRecords(list) : undefined;
        const task: ShardTask = { job: this.opts.job, ...(packed ? { records: packed } : {}), ...(watermarkMs !== undefined ? { watermarkMs } : {}) };
        const result = (await this.pools[shard]!.run(task, packed ? { transferList: transferablesOf(packed) } : {})) as ShardResult;
        return { ...result, shard };
      }),
    );
  }

  /** Replaces a shard's state (restored from the changelog) before it processes more. */
  async restore(shard: number, entries: readonly StoreChange[]): Promise<void> {
    await this.pools[shard]!.run({ job: this.opts.job, restore: entries } satisfies ShardTask);
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close()));
  }
}
