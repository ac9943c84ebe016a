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
import type { Emitter, EngineRecord, KeyValueStore, Operator, StoreProvider } from "../engine/types.js";
import { tenantKey } from "../kafka-contract.js";
import type { AnyJob, MapContext, TableView } from "./define-job.js";
import type { JobInputs, RecordMeta, TableInput } from "./inputs.js";

/** A decoded input record as the runtime hands it to a job's task. */
export type JobRecord = {
  /** The input's name in the job. */
  readonly input: string;
  readonly tenant: string;
  /** The record's own key, without the tenant. */
  readonly key: string;
  readonly value: unknown;
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
  private readonly tables = new Map<string, KeyValueStore<unknown>>();
  private readonly writers: ReadonlyMap<string, ReadonlySet<string> | undefined>;
  private readonly ctx: MapContext<JobInputs, unknown>;
  /** The tenant of the record being mapped: table lookups are scoped to it. */
  private currentTenant = "";

  constructor(
    private readonly job: AnyJob,
    private readonly options: unknown,
    stores: StoreProvider,
  ) {
    this.hooks = job as RecordHooks;
    const step = job.step({ options });
    this.step = step.create(stores);
    this.forwardTables = step.kind === "custom";
    this.writers = tableWriters(job, options);
    const views: Record<string, TableView<unknown>> = {};
    for (const [name, input] of Object.entries(job.inputs as JobInputs)) {
      if (input.kind !== "table") continue;
      const store = stores.store<unknown>(`table:${name}`);
      this.tables.set(name, store);
      const scoped = (key: string) => (input.scope === "tenant" ? tenantKey(this.currentTenant, key) : key);
      views[name] = {
        get: (key) => store.get(scoped(key)),
        asOf: () => {
          throw new TypeError(`table ${name} is not versioned: declare versioned: { historyMs } to look it up as of a time`);
        },
      };
    }
    this.ctx = { options, tables: views };
  }

  process(record: EngineRecord<JobRecord>, out: Emitter<unknown>): void {
    const { input: name, tenant, key, value } = record.value;
    const input = (this.job.inputs as JobInputs)[name];
    if (!input) return;
    const meta: RecordMeta = { tenant, key, timestampMs: record.timestampMs };
    this.currentTenant = tenant;
    if (input.kind === "table") return this.applyTable(name, input, value, meta, out);
    const r = { input: name, value, ...meta };
    if (this.hooks.filter && !this.hooks.filter(r, this.ctx)) return;
    const mapped = this.hooks.map ? this.hooks.map(r, this.ctx) : value;
    if (mapped === undefined) return;
    this.step.process({ key: record.key, value: mapped, timestampMs: record.timestampMs }, out);
  }

  advanceWatermark(watermarkMs: number, out: Emitter<unknown>): void {
    this.step.advanceWatermark?.(watermarkMs, out);
  }

  private applyTable(name: string, input: TableInput<unknown>, value: unknown, meta: RecordMeta, out: Emitter<unknown>): void {
    const allowed = this.writers.get(name);
    if (input.scope === "shared" && allowed !== undefined && !allowed.has(meta.tenant)) {
      const rejected: Rejected = { input: name, tenant: meta.tenant, key: meta.key, reason: `tenant ${meta.tenant} may not write the shared table ${name}` };
      out.emit(REJECTED_STREAM, tenantKey(meta.tenant, meta.key), rejected, meta.timestampMs);
      return;
    }
    const tableKey = input.key(value, meta);
    const stored = input.scope === "tenant" ? tenantKey(meta.tenant, tableKey) : tableKey;
    if (this.forwardTables) {
      const mapped = this.hooks.map ? this.hooks.map({ input: name, value, ...meta }, this.ctx) : value;
      if (mapped !== undefined) this.step.process({ key: stored, value: mapped, timestampMs: meta.timestampMs }, out);
      return;
    }
    this.tables.get(name)!.put(stored, value);
  }
}
