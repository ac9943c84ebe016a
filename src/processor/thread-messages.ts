/**
 * Messages between the processor and its engine worker threads, defined once. Record payloads
 * travel packed in one buffer per task and are transferred, not copied; outputs and state
 * changes come back as plain data (they are small and JSON-shaped by the engine's contract).
 */
import type { JobRegions } from "../jobs/runtime-job.js";
import type { TracingSetup } from "../tracing/tracing.js";

/** A raw event as consumed from Kafka: its input partition decides the task that processes it. */
export type RawRecord = {
  readonly type: string;
  readonly partition: number;
  /** Stream records: tenant-qualified ("tenant/key"); table records: the key as produced. */
  readonly key: string;
  /** The publishing tenant ("" when the record has none). */
  readonly tenant: string;
  readonly timestampMs: number;
  readonly value: Uint8Array;
  /**
   * Broadcast (global-table) records only: where the record sits, "topic/partition" and offset.
   * Each task remembers the last offset it applied per source, so a record replayed to it (catch-up
   * after a restore) is applied once.
   */
  readonly source?: string;
  readonly offset?: number;
  /** A sampled trace this record continues (the processor's span for it). */
  readonly traceparent?: string;
  /** The event's id, for a job that reads several regions (RuntimeJob.regions): a task drops ids it has seen. */
  readonly id?: string;
};

export type PackedRecords = {
  readonly types: string[];
  readonly partitions: Int32Array;
  readonly keys: string[];
  readonly tenants: string[];
  readonly timestamps: Float64Array;
  /** "" when the record has no source. */
  readonly sources: string[];
  /** -1 when the record has no source. */
  readonly sourceOffsets: Float64Array;
  /** "" when the record is not traced. */
  readonly traceparents: string[];
  /** Event ids (RawRecord.id); absent when no record has one. */
  readonly ids?: string[];
  /** offsets[i]..offsets[i+1] is record i's payload in `bytes`. */
  readonly offsets: Uint32Array;
  readonly bytes: Uint8Array;
};

/** What every worker thread of a pool is started with. */
export type WorkerSetup = {
  /** The jobs the thread runs: where each is defined (a module URL or package specifier) and its options as given. */
  readonly jobs: ReadonlyArray<{
    readonly name: string;
    readonly module: string;
    readonly options: unknown;
    /** Where the job's tasks keep their state on disk (a directory per partition); absent: in memory. */
    readonly stateDir?: string;
    /** The other regions the job reads (RuntimeJob.regions). */
    readonly regions?: JobRegions;
  }>;
  /** The schema image the jobs' types come from (undefined: the built-in scenario types). */
  readonly schemaImage: string | undefined;
  readonly tracing: TracingSetup | undefined;
};

/** A store entry: value null = deleted. */
export type StoreChange = readonly [store: string, key: string, value: unknown];

/** A disk-state task's restore, in steps (the changelog may not fit in memory): see ShardTask.restore. */
export type RestoreStep = {
  readonly partition: number;
  /** Changelog entries in changelog order. */
  readonly entries: readonly StoreChange[];
  /** "replace": the local copy is dropped first (it cannot be used); "append": on top of it. */
  readonly mode?: "replace" | "append";
  /** The last step: the task starts, and the local checkpoint becomes `changelogOffset`. */
  readonly done?: boolean;
  readonly changelogOffset?: number;
};

export type ShardTask = {
  readonly job: string;
  /**
   * Disk state: these tasks' steps so far are committed in Kafka, their changelog records ending
   * before `changelogOffset`: their writes go to disk with that checkpoint. Applied before anything else.
   */
  readonly durable?: ReadonlyArray<readonly [partition: number, changelogOffset: number]>;
  /** Disk state: open a task's local copy and report where it stands (ShardResult.local). */
  readonly openLocal?: { readonly partition: number };
  /**
   * Memory state: replace a partition task's state with these entries (on assignment), before
   * anything else. Disk state: one step of the restore (RestoreStep).
   */
  readonly restore?: RestoreStep;
  /** Drop these partition tasks (revoked in a rebalance). */
  readonly revoke?: readonly number[];
  readonly records?: PackedRecords;
  /** Advances every partition task of the job on this thread. */
  readonly watermarkMs?: number;
  /** Advances these partition tasks only (idle partitions: see Processor idleAdvanceMs). */
  readonly watermarks?: ReadonlyArray<readonly [partition: number, watermarkMs: number]>;
};

export type ShardOutput = {
  readonly partition: number;
  readonly stream: string;
  readonly key: string;
  readonly value: unknown;
  readonly timestampMs: number;
  /** The engine span of the traced record that caused it, for the result record's header. */
  readonly traceparent?: string;
};

/**
 * A disk-state task's local copy: its checkpoint, and the entries of its identity and source
 * positions stores (what the processor reads of a restored state).
 */
export type LocalState = { readonly checkpoint?: number; readonly checkpointAtMs?: number; readonly entries: StoreChange[] };

export type ShardResult = {
  /** The answer to openLocal, and to a disk restore's last step. */
  readonly local?: LocalState;
  readonly outputs: ShardOutput[];
  /** Keys changed by this task, per input partition: what goes to that changelog partition. */
  readonly changes: Array<{ readonly partition: number; readonly changes: StoreChange[] }>;
};

export function packRecords(records: readonly RawRecord[]): PackedRecords {
  let size = 0;
  for (const r of records) size += r.value.byteLength;
  const bytes = new Uint8Array(size);
  const offsets = new Uint32Array(records.length + 1);
  const timestamps = new Float64Array(records.length);
  const partitions = new Int32Array(records.length);
  const sourceOffsets = new Float64Array(records.length);
  let at = 0;
  records.forEach((r, i) => {
    bytes.set(r.value, at);
    offsets[i] = at;
    timestamps[i] = r.timestampMs;
    partitions[i] = r.partition;
    sourceOffsets[i] = r.offset ?? -1;
    at += r.value.byteLength;
  });
  offsets[records.length] = at;
  const sources = records.map((r) => r.source ?? "");
  const traceparents = records.map((r) => r.traceparent ?? "");
  const ids = records.some((r) => r.id !== undefined) ? records.map((r) => r.id ?? "") : undefined;
  return {
    ...(ids ? { ids } : {}),
    types: records.map((r) => r.type),
    partitions,
    keys: records.map((r) => r.key),
    tenants: records.map((r) => r.tenant),
    timestamps,
    sources,
    sourceOffsets,
    traceparents,
    offsets,
    bytes,
  };
}

export function* unpackRecords(p: PackedRecords): Generator<RawRecord> {
  for (let i = 0; i < p.keys.length; i++) {
    const record = {
      type: p.types[i]!,
      partition: p.partitions[i]!,
      key: p.keys[i]!,
      tenant: p.tenants[i]!,
      timestampMs: p.timestamps[i]!,
      value: p.bytes.subarray(p.offsets[i], p.offsets[i + 1]),
    };
    const traced = p.traceparents[i] ? { ...record, traceparent: p.traceparents[i]! } : record;
    const identified = p.ids?.[i] ? { ...traced, id: p.ids[i]! } : traced;
    yield p.sources[i] ? { ...identified, source: p.sources[i]!, offset: p.sourceOffsets[i]! } : identified;
  }
}

/** The buffers of a packed batch, for Piscina.move / transferList. */
export function transferablesOf(p: PackedRecords): ArrayBuffer[] {
  return [p.bytes.buffer, p.offsets.buffer, p.timestamps.buffer, p.partitions.buffer, p.sourceOffsets.buffer] as ArrayBuffer[];
}
