/**
 * A job as one engine Operator: what every task of the job runs, in the worker threads and in
 * the test driver alike. It takes decoded input records tagged with their input and tenant and
 * - table records: refuses writes to a shared table by tenants not allowed to write it (onto
 *   "rejected"), then updates the table (per tenant, or shared) — or, for a custom step, passes
 *   them through `map` to the step's operator, which keeps its own tables;
 * - stream records: filter, map (with table lookups for the record's tenant), then the step's
 *   operator, keyed by the tenant-qualified job key.
 * Pure and synchronous, like the engine operators it wraps.
 */
import type { Emitter, EngineRecord, Operator, StoreProvider } from "../engine/types.js";
import { VersionedTable } from "../engine/tables/versioned-table.js";
import { tenantKey } from "../kafka-contract.js";
import type { AnyJob, MapContext, TableView } from "./define-job.js";
import type { JobInputs, RecordMeta, TableInput } from "./inputs.js";
import type { StepContext, WatermarkMode } from "./steps.js";
import { partitionOf } from "./partitioner.js";

/** A decoded input record as the runtime hands it to a job's task. */
export type JobRecord = {
  /** The input's name in the job. */
  readonly input: string;
  readonly tenant: string;
  /** The record's own key, without the tenant. */
  readonly key: string;
  readonly value: unknown;
  /** Table records: where they were read from ("topic/partition"). */
  readonly source?: string;
};

/** The output stream for refused table writes and undecodable records. */
export const REJECTED_STREAM = "rejected";

export type Rejected = { readonly input: string; readonly tenant: string; readonly key: string; readonly reason: string };

/** The tenants allowed to write each shared table, resolved from the job's options. */
export function tableWriters(job: AnyJob, options: unknown): ReadonlyMap<string, ReadonlySet<string> | undefined> {
  const out = new Map<string, ReadonlySet<string> | undefined>();
  for (const [name, input] of Object.entries(job.inputs as JobInputs)) {
    if (input.kind !== "table" || input.scope !== "shared") continue;
    const w = input.writers;
    out.set(name, w === undefined ? undefined : new Set(typeof w === "function" ? (w as (o: unknown) => readonly string[])(options) : w));
  }
  return out;
}

/** A job's record hooks as the runtime calls them (the job's own types are the user's business). */
type RecordHooks = {
  filter?(record: unknown, ctx: MapContext<JobInputs, unknown>): boolean;
  map?(record: unknown, ctx: MapContext<JobInputs, unknown>): unknown;
};

export class JobOperator implements Operator<JobRecord, unknown> {
  private readonly hooks: RecordHooks;
  private readonly step: Operator<unknown, unknown>;
  private readonly forwardTables: boolean;
  /** Per table input: how a record is stored (latest value, or a version from its event time). */
  private readonly tables = new Map<string, (key: string, value: unknown, timestampMs: number) => void>();
  /** The highest event time of each versioned table's records: its history is kept behind it. */
  private readonly tableTimes = new Map<string, number>();
  private readonly writers: ReadonlyMap<string, ReadonlySet<string> | undefined>;
  private readonly ctx: MapContext<JobInputs, unknown>;
  /** The tenant of the record being mapped: table lookups are scoped to it. */
  private currentTenant = "";

  private readonly maxOutOfOrdernessMs: number;
  private readonly followsSources: boolean;

  constructor(
    private readonly job: AnyJob,
    private readonly options: unknown,
    stores: StoreProvider,
    watermarks: WatermarkMode = "records",
    context?: StepContext,
    /** This task's partition, and the job's partitions: a refused table record is reported by one task, not all. */
    private readonly task?: { readonly partition: number; readonly partitions: number },
  ) {
    this.hooks = job as RecordHooks;
    const step = job.step({ options });
    this.step = step.create(stores, watermarks, context);
    this.maxOutOfOrdernessMs = step.maxOutOfOrdernessMs;
    this.followsSources = step.followsSources;
    this.forwardTables = step.kind === "custom";
    this.writers = tableWriters(job, options);
    const views: Record<string, TableView<unknown>> = {};
    for (const [name, input] of Object.entries(job.inputs as JobInputs)) {
      if (input.kind !== "table") continue;
      const scoped = (key: string) => (input.scope === "tenant" ? tenantKey(this.currentTenant, key) : key);
      if (input.versioned) {
        // Versions by event time, with history bounded behind the table's newest record (less the disorder it tolerates).
        const versions = new VersionedTable<unknown>(stores.store(`table:${name}`), {
          historyMs: input.versioned.historyMs,
          ...(input.versioned.maxVersions !== undefined ? { maxVersions: input.versioned.maxVersions } : {}),
          watermark: () => (this.tableTimes.get(name) ?? Number.NEGATIVE_INFINITY) - input.maxOutOfOrdernessMs,
        });
        this.tables.set(name, (key, value, timestampMs) => {
          this.tableTimes.set(name, Math.max(this.tableTimes.get(name) ?? Number.NEGATIVE_INFINITY, timestampMs));
          versions.put(key, value, timestampMs);
        });
        views[name] = { get: (key) => versions.latest(scoped(key)), asOf: (key, timestampMs) => versions.asOf(scoped(key), timestampMs) };
      } else {
        const store = stores.store<unknown>(`table:${name}`);
        this.tables.set(name, (key, value) => store.put(key, value));
        views[name] = {
          get: (key) => store.get(scoped(key)),
          asOf: () => {
            throw new TypeError(`table ${name} is not versioned: declare versioned: { historyMs } to look it up as of a time`);
          },
        };
      }
    }
    this.ctx = { options, tables: views };
  }

  process(record: EngineRecord<JobRecord>, out: Emitter<unknown>): void {
    const { input: name, tenant, key, value, source } = record.value;
    const input = (this.job.inputs as JobInputs)[name];
    if (!input) return;
    const meta: RecordMeta = source === undefined ? { tenant, key, timestampMs: record.timestampMs } : { tenant, key, timestampMs: record.timestampMs, source };
    this.currentTenant = tenant;
    if (input.kind === "table") return this.applyTable(name, input, value, meta, out);
    const r = { input: name, value, ...meta };
    let mapped: unknown;
    try {
      if (this.hooks.filter && !this.hooks.filter(r, this.ctx)) return;
      mapped = this.hooks.map ? this.hooks.map(r, this.ctx) : value;
    } catch (err) {
      return this.reject(name, meta, `${this.job.name}'s filter or map threw: ${(err as Error).message}`, out);
    }
    if (mapped === undefined) return;
    this.step.process({ key: record.key, value: mapped, timestampMs: record.timestampMs }, out);
  }

  /**
   * A record the job's own code could not take (its map, filter or table key threw): it goes to
   * "rejected" with the reason, and the task goes on — one bad record must not stop a partition.
   */
  private reject(input: string, meta: RecordMeta, reason: string, out: Emitter<unknown>, table = false): void {
    // Every task reads a table's records; the one its key would partition to reports a refusal.
    if (table && this.task && partitionOf(meta.key, this.task.partitions) !== this.task.partition) return;
    const rejected: Rejected = { input, tenant: meta.tenant, key: meta.key, reason };
    out.emit(REJECTED_STREAM, tenantKey(meta.tenant, meta.key), rejected, meta.timestampMs);
  }

  advanceWatermark(watermarkMs: number, out: Emitter<unknown>): void {
    this.step.advanceWatermark?.(watermarkMs, out);
  }

  /** The job's input has reached `eventTimeMs` on every source (external watermarks): the step's watermark is that less its tolerated disorder. */
  advanceEventTime(eventTimeMs: number, out: Emitter<unknown>): void {
    if (!this.followsSources) return;
    if (this.step.advanceStreamTime) this.step.advanceStreamTime(eventTimeMs - this.maxOutOfOrdernessMs, out);
    else this.step.advanceWatermark?.(eventTimeMs - this.maxOutOfOrdernessMs, out);
  }

  private applyTable(name: string, input: TableInput<unknown>, value: unknown, meta: RecordMeta, out: Emitter<unknown>): void {
    const allowed = this.writers.get(name);
    if (input.scope === "shared" && allowed !== undefined && !allowed.has(meta.tenant))
      return this.reject(name, meta, `tenant ${meta.tenant} may not write the shared table ${name}`, out, true);
    let stored: string;
    let mapped: unknown = value;
    try {
      const tableKey = input.key(value, meta);
      stored = input.scope === "tenant" ? tenantKey(meta.tenant, tableKey) : tableKey;
      if (this.forwardTables && this.hooks.map) mapped = this.hooks.map({ input: name, value, ...meta }, this.ctx);
    } catch (err) {
      return this.reject(name, meta, `${this.job.name}'s table key or map threw: ${(err as Error).message}`, out, true);
    }
    if (this.forwardTables) {
      if (mapped !== undefined) this.step.process({ key: stored, value: mapped, timestampMs: meta.timestampMs }, out);
      return;
    }
    this.tables.get(name)!(stored, value, meta.timestampMs);
  }
}
