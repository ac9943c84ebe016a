/**
 * A task's changelog as the processor restores it: the latest value per (store, key) of its
 * partitions (read_committed, tombstones removed), and, when the state was written by another
 * version of the job, that state migrated entry by entry by the job's `migrate`.
 */
import type { Kafka, KafkaMessage } from "kafkajs";
import { readCommitted } from "../adapters/kafka/read-committed.js";
import { decodeState } from "../engine/state-codec.js";
import { JOB_IDENTITY_KEY, JOB_IDENTITY_STORE, type JobIdentity, type RuntimeJob } from "../jobs/runtime-job.js";
import { GLOBAL_POSITIONS_STORE } from "./shard-runtime.js";
import { changelogKey } from "./task-messages.js";
import type { StoreChange } from "./thread-messages.js";

/** A changelog record as a store entry (value null: a tombstone); undefined for a key that is not a store entry's. */
function storeChangeOf(m: KafkaMessage): StoreChange | undefined {
  const k = m.key?.toString("utf8") ?? "";
  const sep = k.indexOf("\u0000");
  if (sep < 0) return undefined;
  return [k.slice(0, sep), k.slice(sep + 1), m.value === null ? null : decodeState(m.value.toString("utf8"))];
}

/**
 * One changelog partition, from `from` (or its beginning) to its end, handed over in steps of one
 * fetch each, in changelog order (every record, not only the latest per key): a restore of state
 * on disk never holds the whole changelog in memory.
 */
export async function readChangelogSteps(
  kafka: Kafka,
  topic: string,
  partition: number,
  from: number | undefined,
  onStep: (entries: StoreChange[]) => Promise<void>,
): Promise<void> {
  let step: StoreChange[] = [];
  const flush = async () => {
    if (step.length === 0) return;
    const entries = step;
    step = [];
    await onStep(entries);
  };
  await readCommitted(
    kafka,
    topic,
    (_, m) => {
      const change = storeChangeOf(m);
      if (change) step.push(change);
    },
    {
      ...(from === undefined ? { partitions: [partition] } : { ranges: new Map([[`${topic}/${partition}`, { from, to: Number.MAX_SAFE_INTEGER }]]) }),
      afterBatch: flush,
    },
  );
  await flush();
}

/** The latest value per (store, key) of changelog partitions, tombstones removed. */
export async function readChangelog(kafka: Kafka, topic: string, partitions: readonly number[]): Promise<Map<number, Map<string, StoreChange>>> {
  const out = new Map<number, Map<string, StoreChange>>();
  await readCommitted(
    kafka,
    topic,
    (partition, m) => {
      let state = out.get(partition);
      if (!state) out.set(partition, (state = new Map<string, StoreChange>()));
      const change = storeChangeOf(m);
      if (!change) return;
      const k = changelogKey(change[0], change[1]);
      if (change[2] === null) state.delete(k);
      else state.set(k, change);
    },
    { partitions },
  );
  return out;
}

/**
 * A task's restored state, if it is this job's: state of another version of the job is refused
 * (WEIR_ERR_JOB_STATE_VERSION, by checkIdentity) unless the job migrates it, entry by entry, here.
 */
export function migratedState(spec: RuntimeJob, partition: number, state: ReadonlyMap<string, StoreChange>, log: (line: string) => void): StoreChange[] {
  const identity = state.get(changelogKey(JOB_IDENTITY_STORE, JOB_IDENTITY_KEY))?.[2] as JobIdentity | undefined;
  if (spec.checkIdentity(identity) === "same") return [...state.values()];
  log(`migrating the state of partition ${partition} from version ${identity!.version} to ${spec.version}`);
  const migrate = spec.job.migrate!.bind(spec.job);
  const entries: StoreChange[] = [];
  for (const [store, key, value] of state.values()) {
    if (store === JOB_IDENTITY_STORE || store === GLOBAL_POSITIONS_STORE) {
      entries.push([store, key, value]);
      continue;
    }
    const next = migrate(identity!.version, { store, key, value });
    // The old entry goes (a tombstone) unless the migrated one takes its place.
    if (!next || next.store !== store || next.key !== key) entries.push([store, key, null]);
    if (next) entries.push([next.store, next.key, next.value]);
  }
  return entries;
}
