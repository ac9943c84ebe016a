/**
 * What one processing step writes, per task (input partition): its results, its alerts and its
 * changelog changes as Kafka messages — each task's share goes into that task's own transaction.
 * Results and alerts carry the job, the stream, the tenant (from the tenant-qualified key) and,
 * for a traced event, the engine span's traceparent.
 */
import type { Message } from "kafkajs";
import { headers as recordHeaders, splitTenantKey } from "../kafka-contract.js";
import { encodeOutput, encodeState } from "../engine/state-codec.js";
import type { RuntimeJob } from "../jobs/runtime-job.js";
import type { ThreadResults } from "./sharded-pool.js";

export type TaskMessages = { results: Message[]; alerts: Message[]; changelog: Message[] };

/** Changelog record key: store and key, NUL-separated. */
export const changelogKey = (store: string, key: string): string => `${store}\u0000${key}`;

/** The messages of each task a step touched; `always` gets an entry even when it produced nothing. */
export function taskMessages(job: RuntimeJob, threads: ThreadResults, always?: number): Map<number, TaskMessages> {
  const perTask = new Map<number, TaskMessages>();
  const of = (p: number) => {
    let t = perTask.get(p);
    if (!t) perTask.set(p, (t = { results: [], alerts: [], changelog: [] }));
    return t;
  };
  if (always !== undefined) of(always);
  for (const t of threads) {
    for (const o of t.outputs) {
      const task = of(o.partition);
      // The tenant whose data this is (outputs about shared data, e.g. a rejected quote, have none).
      const tenant = splitTenantKey(o.key)?.tenant;
      const headers = {
        [recordHeaders.stream]: o.stream,
        [recordHeaders.job]: job.name,
        ...(tenant ? { [recordHeaders.tenant]: tenant } : {}),
        ...(o.traceparent ? { [recordHeaders.traceparent]: o.traceparent } : {}),
      };
      task.results.push({ key: o.key, value: encodeOutput(o.value), partition: o.partition, timestamp: String(o.timestampMs), headers });
      const alert = job.alertOf(o);
      if (alert) task.alerts.push({ key: alert.key, value: encodeOutput(alert), timestamp: String(o.timestampMs), headers });
    }
    for (const c of t.changes) {
      for (const [store, key, value] of c.changes) {
        of(c.partition).changelog.push({ key: changelogKey(store, key), value: value === null ? null : encodeState(value), partition: c.partition });
      }
    }
  }
  return perTask;
}
