/**
 * Whether a task's local copy on disk can be used, and from where the changelog must be replayed
 * onto it (decision 0026). Not when there is none, when its checkpoint lies outside the changelog
 * partition (records deleted under it, or the topic recreated), when it is older than the
 * changelog keeps tombstones (a key deleted meanwhile would survive in the copy), or when another
 * version of the job wrote it.
 */
import type { JobIdentity } from "../jobs/runtime-job.js";
import { JOB_IDENTITY_KEY, JOB_IDENTITY_STORE } from "../jobs/runtime-job.js";
import type { LocalState } from "./thread-messages.js";

/** Half of Kafka's default delete.retention.ms (24 h), which Weir's changelog topics keep. */
export const MAX_CHECKPOINT_AGE_MS = 12 * 60 * 60 * 1000;

export function usableCheckpoint(
  local: LocalState,
  low: number,
  high: number,
  sameJob: (identity: JobIdentity | undefined) => boolean,
  nowMs = Date.now(),
): number | undefined {
  const { checkpoint, checkpointAtMs } = local;
  if (checkpoint === undefined || checkpoint < low || checkpoint > high) return undefined;
  if (checkpointAtMs === undefined || nowMs - checkpointAtMs > MAX_CHECKPOINT_AGE_MS) return undefined;
  const identity = local.entries.find(([store, key]) => store === JOB_IDENTITY_STORE && key === JOB_IDENTITY_KEY)?.[2] as JobIdentity | undefined;
  try {
    return sameJob(identity) ? checkpoint : undefined;
  } catch {
    return undefined; // another job's or version's state: replaced from the changelog, which then decides
  }
}
