/**
 * Piscina worker entry: one thread = one shard. It keeps the shard's state for each job between
 * tasks (that is the point of key affinity), so module-level state is deliberate here.
 */
import { jobSpec } from "../src/processor/jobs.js";
import { ShardRuntime } from "../src/processor/shard-runtime.js";
import type { ShardResult, ShardTask } from "../src/processor/thread-messages.js";

const shards = new Map<string, ShardRuntime>();

export default function runShardTask(task: ShardTask): ShardResult {
  let shard = shards.get(task.job);
  if (!shard || task.restore) {
    shard = new ShardRuntime(jobSpec(task.job), task.restore ?? []);
    shards.set(task.job, shard);
  }
  return shard.run(task.records, task.watermarkMs);
}
