/**
 * How a processor gives the tasks it takes over their state (decision 0007, 0026): in memory,
 * the latest entries of the task's whole changelog partition (migrated when another version of
 * the job wrote them); on disk, the task's local copy brought up to date from its checkpoint, or
 * replaced from the whole changelog when it cannot be trusted.
 */
import type { Kafka } from "kafkajs";
import type { LazyAdmin } from "../adapters/kafka/lazy-admin.js";
import { WeirError } from "../errors.js";
import { JOB_IDENTITY_KEY, JOB_IDENTITY_STORE, type JobIdentity, type RuntimeJob } from "../jobs/runtime-job.js";
import { migratedState, readChangelog, readChangelogSteps } from "./changelog.js";
import { usableCheckpoint } from "./local-checkpoint.js";
import type { ShardedEnginePool } from "./sharded-pool.js";
import { changelogKey } from "./task-messages.js";
import type { StoreChange } from "./thread-messages.js";

/** What a restore reads from and writes to. */
export type RestoreSource = {
  readonly kafka: Kafka;
  readonly admin: LazyAdmin;
  readonly changelog: string;
  readonly pool: ShardedEnginePool;
  readonly job: RuntimeJob;
  readonly log: (line: string) => void;
};

/** Per restored task, its entries as the processor reads them (by changelog key); and what the restore did, for the log. */
export type RestoredStates = { states: Map<number, ReadonlyMap<string, StoreChange>>; summary: string };

/** Memory state: each task's latest entries from its whole changelog partition (migrated if another version wrote them). */
export async function restoreInMemory(src: RestoreSource, partitions: readonly number[]): Promise<RestoredStates> {
  const entries = await readChangelog(src.kafka, src.changelog, partitions);
  const out = new Map<number, ReadonlyMap<string, StoreChange>>();
  for (const p of partitions) {
    const state = entries.get(p) ?? new Map<string, StoreChange>();
    await src.pool.restore(p, migratedState(src.job, p, state, src.log));
    out.set(p, state);
  }
  return { states: out, summary: `${[...entries.values()].reduce((n, m) => n + m.size, 0)} entries` };
}

/**
 * Disk state (decision 0026): each task keeps its local copy when its checkpoint can be trusted
 * and replays the changelog from there; otherwise it replays the whole changelog partition. In
 * steps of one fetch: the state may be larger than memory. Answers, per task, its identity and
 * source positions (what restore() reads of a state).
 */
export async function restoreOnDisk(src: RestoreSource, partitions: readonly number[]): Promise<RestoredStates> {
  const ends = await (await src.admin.get()).fetchTopicOffsets(src.changelog);
  const out = new Map<number, ReadonlyMap<string, StoreChange>>();
  let replayed = 0;
  const fromCheckpoint: number[] = [];
  for (const p of partitions) {
    const end = ends.find((e) => e.partition === p);
    const [low, high] = [Number(end?.low ?? 0), Number(end?.high ?? 0)];
    const local = await src.pool.openLocal(p);
    const from = usableCheckpoint(local, low, high, (identity) => src.job.checkIdentity(identity) === "same");
    if (from !== undefined) fromCheckpoint.push(p);
    let mode: "replace" | "append" = from === undefined ? "replace" : "append";
    // A committed transaction takes at least two offsets (records and its marker): one left is only a marker.
    if (from === undefined || high - from > 1) {
      await readChangelogSteps(src.kafka, src.changelog, p, from, async (entries) => {
        replayed += entries.length;
        await src.pool.restoreStep({ partition: p, entries, mode });
        mode = "append";
      });
    }
    const restored = await src.pool.restoreStep({ partition: p, entries: [], mode, done: true, changelogOffset: high });
    const state = new Map(restored!.entries.map((e) => [changelogKey(e[0], e[1]), e] as const));
    const identity = state.get(changelogKey(JOB_IDENTITY_STORE, JOB_IDENTITY_KEY))?.[2] as JobIdentity | undefined;
    if (src.job.checkIdentity(identity) === "migrate")
      throw new WeirError(
        "WEIR_ERR_JOB_STATE_VERSION",
        src.job.name,
        `state is version ${identity!.version}; migrating state kept on disk (WEIR_STATE_DIR) is not supported: run the new version once without WEIR_STATE_DIR (it migrates the changelog), then with it`,
      );
    out.set(p, state);
  }
  const kept = fromCheckpoint.length ? `partitions ${fromCheckpoint.join(",")} from their local checkpoints, ` : "";
  return { states: out, summary: `on disk: ${kept}${replayed} changelog records replayed` };
}
