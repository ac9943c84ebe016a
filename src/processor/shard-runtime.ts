/**
 * One task — one job on one input partition, as in Kafka Streams — inside a worker thread: the
 * job's operator over its stores (in memory, or on disk: TaskState), fed records in arrival order. A task's state is exactly
 * what its changelog partition holds, so a partition can move to another processor with its state.
 * Besides the job's own stores a task keeps, in the "__job" store, its job's identity (name and
 * version: state of another version is refused or migrated at restore, in the processor) and its
 * highest event time (so a restarted processor can close idle partitions' windows).
 */
import type { Emitter, KeyValueStore } from "../engine/types.js";
import { MemoryTaskState, type TaskState } from "./task-state.js";
import { REJECTED_STREAM, type JobOperator, type Rejected } from "../jobs/job-operator.js";
import { SourceWatermarks, TASK_SOURCES_KEY } from "../jobs/source-watermarks.js";
import { JOB_IDENTITY_KEY, JOB_IDENTITY_STORE, type JobIdentity, type RuntimeJob } from "../jobs/runtime-job.js";
import { splitTenantKey, tenantKey, type WatermarkMarker } from "../kafka-contract.js";
import type { StoreChange } from "./thread-messages.js";

export type TaskOutput = { stream: string; key: string; value: unknown; timestampMs: number };

/**
 * The store holding, per source ("topic/partition": a global table's partition, or a partition a
 * repartitioned stream was re-keyed from), the offset of the last record from it this task
 * applied. It is changelogged with the rest of the task's state, so after a restore the task
 * knows exactly which of those records it has seen. (The name predates repartitioned sources.)
 */
export const GLOBAL_POSITIONS_STORE = "__global_positions";
/**
 * A job that reads several regions (RuntimeJob.regions): the ids of the stream events a task has
 * applied, with their event times. The same event may reach a region twice (sent to region A,
 * retried to region B after A failed, and later mirrored from A); the task applies the first
 * copy and drops the others. Changelogged like any store, so a restore keeps the ids.
 */
export const EVENT_IDS_STORE = "__event_ids";
/** In JOB_IDENTITY_STORE: the event time below which EVENT_IDS_STORE was last pruned. */
const EVENT_IDS_PRUNED_KEY = "eventIdsPrunedTo";

/** In JOB_IDENTITY_STORE: `{ maxEventTimeMs }` of the task's stream records. */
export const TASK_PROGRESS_KEY = "progress";
export type TaskProgress = { readonly maxEventTimeMs: number };

/** The record type of a repartition topic's watermark markers, as the processor hands them to a task. */
export const WATERMARK_MARKER_TYPE = "weir.control/watermark";

/** One record as a task takes it. */
export type TaskRecord = {
  readonly type: string;
  /** Stream records: "tenant/key" (the job's key); table records: the key as produced. */
  readonly key: string;
  readonly tenant: string;
  readonly payload: Uint8Array;
  readonly timestampMs: number;
  /** The event's id, when the job reads several regions. */
  readonly id?: string;
};

export class ShardRuntime {
  private readonly operator: JobOperator;
  private readonly sources: SourceWatermarks;
  private maxEventTimeMs: number;
  /** The event time below which the event ids were last pruned (kept in JOB_IDENTITY_STORE; read once here, not per event). */
  private eventIdsPrunedTo: number;

  /**
   * `restore`: entries to put before anything else (the memory state's restore); `state`: where
   * the stores live (a disk state comes with its restored entries on it already).
   */
  constructor(
    private readonly job: RuntimeJob,
    restore: readonly StoreChange[] = [],
    partition?: number,
    private readonly state: TaskState = new MemoryTaskState(),
  ) {
    for (const [store, key, value] of restore) {
      if (value === null) this.storeOf(store).delete(key);
      else this.storeOf(store).put(key, value);
    }
    const meta = this.storeOf(JOB_IDENTITY_STORE);
    this.sources = new SourceWatermarks(meta, TASK_SOURCES_KEY);
    const progress = meta.get(TASK_PROGRESS_KEY) as TaskProgress | undefined;
    this.maxEventTimeMs = progress?.maxEventTimeMs ?? Number.NEGATIVE_INFINITY;
    this.eventIdsPrunedTo = (meta.get(EVENT_IDS_PRUNED_KEY) as number | undefined) ?? Number.NEGATIVE_INFINITY;
    const identity = meta.get(JOB_IDENTITY_KEY) as JobIdentity | undefined;
    const migrated = identity !== undefined && identity.version !== job.version;
    // Restored entries are already in the changelog; migrated ones (and their tombstones) are not yet.
    if (!migrated) this.takeChanges();
    this.operator = job.createOperator(
      { store: <S>(name: string) => this.storeOf(name) as KeyValueStore<S> },
      partition === undefined ? undefined : { partition, partitions: job.partitions },
    );
    // A new task (or one migrated from an earlier version) records whose state this is.
    if (identity?.name !== job.name || identity.version !== job.version)
      meta.put(JOB_IDENTITY_KEY, { name: job.name, version: job.version } satisfies JobIdentity);
  }

  private storeOf(name: string): KeyValueStore<unknown> {
    return this.state.store(name);
  }

  /**
   * Processes one record of this task's partition (or a broadcast one); types the job does not
   * read are skipped, and so is a record with a source position (broadcast, or re-keyed by the
   * repartition step) at or below this task's position in that source.
   * A payload that does not decode goes to the "rejected" output instead of failing the task.
   */
  process(record: TaskRecord, out: TaskOutput[], source?: { name: string; offset: number }): void {
    if (record.type === WATERMARK_MARKER_TYPE) return this.onMarker(JSON.parse(new TextDecoder().decode(record.payload)) as WatermarkMarker, out);
    const input = this.job.inputs.get(record.type);
    if (!input) return;
    if (source) {
      const positions = this.storeOf(GLOBAL_POSITIONS_STORE);
      const seen = positions.get(source.name) as number | undefined;
      if (seen !== undefined && source.offset <= seen) return;
      positions.put(source.name, source.offset);
    }
    if (input.kind === "stream" && record.id !== undefined && this.job.regions && !this.firstCopy(record.id, record.timestampMs)) return;
    const own = input.kind === "stream" ? (splitTenantKey(record.key)?.key ?? record.key) : record.key;
    let value: unknown;
    try {
      value = input.decode(record.payload);
    } catch (err) {
      const rejected: Rejected = {
        input: input.name,
        tenant: record.tenant,
        key: own,
        reason: `undecodable ${record.type} payload: ${(err as Error).message}`,
      };
      out.push({ stream: REJECTED_STREAM, key: tenantKey(record.tenant, own), value: rejected, timestampMs: record.timestampMs });
      return;
    }
    if (input.kind === "stream" && record.timestampMs > this.maxEventTimeMs) {
      this.maxEventTimeMs = record.timestampMs;
      this.storeOf(JOB_IDENTITY_STORE).put(TASK_PROGRESS_KEY, { maxEventTimeMs: record.timestampMs } satisfies TaskProgress);
    }
    const jobRecord =
      source && input.kind === "table"
        ? { input: input.name, tenant: record.tenant, key: own, value, source: source.name }
        : { input: input.name, tenant: record.tenant, key: own, value };
    this.operator.process({ key: record.key, value: jobRecord, timestampMs: record.timestampMs }, this.emitter(out));
  }

  /**
   * Whether this is the first copy of an event this task sees (and remembers its id). Ids older
   * than the dedup window behind the task's latest event time are forgotten, a quarter window at
   * a time: one pass over the ids per quarter window of event time.
   */
  private firstCopy(id: string, timestampMs: number): boolean {
    const ids = this.storeOf(EVENT_IDS_STORE) as KeyValueStore<number>;
    if (ids.get(id) !== undefined) return false;
    ids.put(id, timestampMs);
    const windowMs = this.job.regions!.dedupWindowMs;
    const horizon = Math.max(this.maxEventTimeMs, timestampMs) - windowMs;
    if (horizon - this.eventIdsPrunedTo >= windowMs / 4) {
      for (const [key, at] of ids.entries()) if (at < horizon) ids.delete(key);
      this.eventIdsPrunedTo = horizon;
      this.storeOf(JOB_IDENTITY_STORE).put(EVENT_IDS_PRUNED_KEY, horizon);
    }
    return true;
  }

  /** A source partition's progress (repartitioned jobs): the operator's watermark follows the lowest source. */
  private onMarker(marker: WatermarkMarker, out: TaskOutput[]): void {
    const eventTimeMs = this.sources.apply(marker);
    if (eventTimeMs !== undefined) this.operator.advanceEventTime(eventTimeMs, this.emitter(out));
  }

  advanceWatermark(watermarkMs: number, out: TaskOutput[]): void {
    this.operator.advanceWatermark?.(watermarkMs, this.emitter(out));
  }

  private emitter(out: TaskOutput[]): Emitter<unknown> {
    return { emit: (stream, key, value, timestampMs) => out.push({ stream, key, value, timestampMs }) };
  }

  /** Store entries changed since the last call (value null = deleted). */
  takeChanges(): StoreChange[] {
    return this.state.takeChanges();
  }
}
