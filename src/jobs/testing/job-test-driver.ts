/**
 * JobTestDriver: runs a whole job — decoding, the repartition step, tables, filter/map, its step,
 * alerts — synchronously and deterministically, as Kafka Streams' TopologyTestDriver runs a
 * topology. Records are piped by input name with a tenant, a key and an event time; each lands on
 * the task Kafka would give it (Kafka's default partitioner over the job's key, after the logical
 * repartition step); tables reach every task. Event time and the wall clock (the job's idle
 * policy) are advanced by hand. Outputs are read by stream, stores inspected per task, and
 * `restart()` rebuilds every task from its changelog, as after a crash.
 *
 *   const driver = JobTestDriver.create(pageStats, { options: { windowMs: 60_000 }, registry });
 *   driver.pipe("views", { page: "/a", user: "u1" }, { tenant: "acme", key: "evt-1", timestampMs: t });
 *   driver.advanceWatermark(t + 120_000);
 *   driver.readOutput("results");
 */
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { MemoryStore, type Emitter } from "../../engine/types.js";
import { decodeState, encodeState } from "../../engine/state-codec.js";
import { splitTenantKey, tenantKey, type AlertRecord, type WatermarkMarker } from "../../kafka-contract.js";
import { SchemaRegistry } from "../../schema/registry.js";
import type { AnyJob } from "../define-job.js";
import type { JobInputs } from "../inputs.js";
import type { JobOperator, JobRecord } from "../job-operator.js";
import { partitionOf } from "../partitioner.js";
import { JOB_IDENTITY_STORE, RuntimeJob, type ResolvedInput } from "../runtime-job.js";
import { DEFAULT_SOURCE_IDLE_MS, SourceWatermarks, TASK_SOURCES_KEY } from "../source-watermarks.js";

export type JobTestDriverOptions = {
  /** The job's options as WEIR_JOB_OPTIONS would give them (checked by the job's schema). */
  readonly options?: unknown;
  /** The schema image the job's types come from (default: Weir's built-in scenario types). */
  readonly registry?: SchemaRegistry;
  /** Tasks (input partitions); default the partitions of the stream inputs' topics. */
  readonly partitions?: number;
};

export type PipeOptions = {
  /** The publishing tenant (default "test"). */
  readonly tenant?: string;
  /** The record's Kafka key as produced (the envelope's partition key); default: the job's key of the record, else "". */
  readonly key?: string;
  /** Event time, ms since the epoch. */
  readonly timestampMs: number;
};

/** One output as the job wrote it to weir.results.<job>. */
export type DriverOutput = {
  readonly stream: string;
  /** The tenant-qualified key the record carries ("tenant/key"). */
  readonly key: string;
  /** The tenant whose data it is (undefined for outputs about shared data). */
  readonly tenant: string | undefined;
  readonly value: unknown;
  readonly timestampMs: number;
  /** The task (input partition) that wrote it. */
  readonly partition: number;
};

type Task = {
  readonly stores: Map<string, MemoryStore<unknown>>;
  /** A repartitioned job's sources, as the task's markers have told it. */
  sources: SourceWatermarks;
  /** Each store's changes as the changelog would hold them (encoded state text; undefined = deleted). */
  readonly changelog: Map<string, Map<string, string | undefined>>;
  operator: JobOperator;
  maxEventTimeMs: number | undefined;
  lastRecordAtMs: number | undefined;
};

export class JobTestDriver {
  readonly runtime: RuntimeJob;
  readonly partitions: number;
  private readonly tasks = new Map<number, Task>();
  private pending: DriverOutput[] = [];
  private readonly history: DriverOutput[] = [];
  private wallClockMs = 0;
  /** A repartitioned job's source partitions: how far each got, when it last had a record, whether it is idle. */
  private readonly sources = new Map<string, { maxEventTimeMs: number; lastRecordAtMs: number; idle: boolean }>();

  private constructor(
    job: AnyJob,
    private readonly registry: SchemaRegistry,
    opts: JobTestDriverOptions,
  ) {
    this.runtime = RuntimeJob.resolve(job, opts.options, registry);
    this.partitions = opts.partitions ?? this.runtime.partitions;
    for (let p = 0; p < this.partitions; p++) this.tasks.set(p, this.newTask(p, new Map<string, MemoryStore<unknown>>()));
    // Every source partition of the stream inputs, as the repartition step knows them.
    const topics = new Map([...this.runtime.inputs.values()].filter((i) => i.kind === "stream").map((i) => [i.topic, i.partitions]));
    for (const [topic, partitions] of topics) {
      for (let p = 0; p < partitions; p++) this.sources.set(`${topic}/${p}`, { maxEventTimeMs: Number.NEGATIVE_INFINITY, lastRecordAtMs: 0, idle: false });
    }
  }

  static create(job: AnyJob, opts: JobTestDriverOptions = {}): JobTestDriver {
    return new JobTestDriver(job, opts.registry ?? SchemaRegistry.builtin(), opts);
  }

  /** Pipes one record of input `input` (a message or its init shape), encoded and decoded as in production. */
  pipe(input: string, value: MessageInitShape<DescMessage>, opts: PipeOptions): this {
    const resolved = this.inputNamed(input);
    const desc = this.schemaOf(resolved);
    const payload = toBinary(desc, create(desc, value));
    const tenant = opts.tenant ?? "test";
    const decoded = resolved.decode(payload);
    const jobKey = resolved.jobKey?.(decoded, { tenant, key: opts.key ?? "", timestampMs: opts.timestampMs });
    const recordKey = opts.key ?? jobKey ?? "";
    const record: JobRecord = { input: resolved.name, tenant, key: recordKey, value: decoded };
    if (resolved.kind === "table") {
      // Every task reads the table, each record from the partition its key gives it.
      const fromPartition: JobRecord = { ...record, source: `${resolved.topic}/${partitionOf(recordKey, resolved.partitions)}` };
      for (const [p, task] of this.tasks)
        this.run(p, task, () => task.operator.process({ key: recordKey, value: fromPartition, timestampMs: opts.timestampMs }, this.emitter(p)));
      return this;
    }
    // The logical repartition step: the record moves to the task of the job's key.
    const key = this.runtime.repartition ? (jobKey ?? recordKey) : recordKey;
    const p = partitionOf(key, this.partitions);
    const task = this.tasks.get(p)!;
    task.maxEventTimeMs = Math.max(task.maxEventTimeMs ?? Number.NEGATIVE_INFINITY, opts.timestampMs);
    task.lastRecordAtMs = this.wallClockMs;
    this.run(p, task, () => task.operator.process({ key: tenantKey(tenant, key), value: { ...record, key }, timestampMs: opts.timestampMs }, this.emitter(p)));
    // The repartition step: the record's source partition marks its progress on every task.
    if (this.runtime.repartition) this.markSource(`${resolved.topic}/${partitionOf(recordKey, resolved.partitions)}`, opts.timestampMs);
    return this;
  }

  /** A source partition's progress, as the repartition step writes it to every task (a marker when it rose, or the source was idle). */
  private markSource(source: string, timestampMs: number): void {
    const seen = this.sources.get(source);
    const maxEventTimeMs = Math.max(seen?.maxEventTimeMs ?? Number.NEGATIVE_INFINITY, timestampMs);
    const marks = seen === undefined || timestampMs > seen.maxEventTimeMs || seen.idle;
    this.sources.set(source, { maxEventTimeMs, lastRecordAtMs: this.wallClockMs, idle: false });
    if (marks) this.deliverMarker({ source, of: this.sources.size, maxEventTimeMs });
  }

  private deliverMarker(marker: WatermarkMarker): void {
    for (const [p, task] of this.tasks) {
      this.run(p, task, () => {
        const eventTimeMs = task.sources.apply(marker);
        if (eventTimeMs !== undefined) task.operator.advanceEventTime(eventTimeMs, this.emitter(p));
      });
    }
  }

  /** Event time advances to `watermarkMs` on every task. */
  advanceWatermark(watermarkMs: number): this {
    for (const [p, task] of this.tasks) this.run(p, task, () => task.operator.advanceWatermark?.(watermarkMs, this.emitter(p)));
    return this;
  }

  /**
   * The wall clock moves on by `ms`: tasks idle for the job's `idle.afterMs` have their
   * watermark follow the clock, as the processor does (highest event time + idle time − afterMs).
   */
  advanceWallClock(ms: number): this {
    this.wallClockMs += ms;
    // Source partitions without records for a while stop holding the tasks back (the repartition step's idleness).
    const sourceIdleMs = this.runtime.idleAfterMs ?? DEFAULT_SOURCE_IDLE_MS;
    if (this.runtime.repartition) {
      for (const [source, state] of this.sources) {
        if (state.idle || this.wallClockMs - state.lastRecordAtMs < sourceIdleMs) continue;
        state.idle = true;
        this.deliverMarker({
          source,
          of: this.sources.size,
          idle: true,
          ...(Number.isFinite(state.maxEventTimeMs) ? { maxEventTimeMs: state.maxEventTimeMs } : {}),
        });
      }
    }
    const after = this.runtime.idleAfterMs;
    if (after === undefined) return this;
    for (const [p, task] of this.tasks) {
      if (task.lastRecordAtMs === undefined || task.maxEventTimeMs === undefined) continue;
      const idle = this.wallClockMs - task.lastRecordAtMs;
      if (idle >= after) this.run(p, task, () => task.operator.advanceWatermark?.(task.maxEventTimeMs! + idle - after, this.emitter(p)));
    }
    return this;
  }

  /** Removes and returns the outputs written since the last read (of `stream`, if given). */
  readOutput(stream?: string): DriverOutput[] {
    const out = stream === undefined ? this.pending : this.pending.filter((o) => o.stream === stream);
    this.pending = stream === undefined ? [] : this.pending.filter((o) => o.stream !== stream);
    return out;
  }

  /** Every output so far (of `stream`, if given), read or not. */
  readAll(stream?: string): DriverOutput[] {
    return stream === undefined ? [...this.history] : this.history.filter((o) => o.stream === stream);
  }

  /** The alerts the outputs so far made (what weir.alerts and the webhook get). */
  alerts(): AlertRecord[] {
    return this.history.flatMap((o) => this.runtime.alertOf(o) ?? []);
  }

  /** A task's store, for assertions. */
  store<S>(name: string, partition = 0): MemoryStore<S> {
    const store = this.tasks.get(partition)?.stores.get(name);
    if (!store) throw new Error(`task ${partition} has no store named ${name}`);
    return store as MemoryStore<S>;
  }

  /** The task (partition) a job key lands on. */
  partitionOf(jobKey: string): number {
    return partitionOf(jobKey, this.partitions);
  }

  /** Rebuilds every task from its changelog, as a processor does after a crash or a move; outputs not yet read are kept. */
  restart(): this {
    for (const [p, task] of this.tasks) {
      const restored = new Map<string, MemoryStore<unknown>>();
      for (const [name, entries] of task.changelog) {
        const store = new MemoryStore<unknown>();
        for (const [key, text] of entries) if (text !== undefined) store.put(key, decodeState(text));
        store.takeChanges();
        restored.set(name, store);
      }
      const fresh = this.newTask(p, restored, task.changelog);
      fresh.maxEventTimeMs = task.maxEventTimeMs;
      fresh.lastRecordAtMs = this.wallClockMs;
      this.tasks.set(p, fresh);
    }
    return this;
  }

  private newTask(
    partition: number,
    stores: Map<string, MemoryStore<unknown>>,
    changelog: Task["changelog"] = new Map<string, Map<string, string | undefined>>(),
  ): Task {
    const provider = {
      store: <S>(name: string) => {
        let store = stores.get(name);
        if (!store) stores.set(name, (store = new MemoryStore()));
        return store as unknown as MemoryStore<S>;
      },
    };
    const task: Task = {
      stores,
      changelog,
      sources: new SourceWatermarks(provider.store(JOB_IDENTITY_STORE), TASK_SOURCES_KEY),
      operator: this.runtime.createOperator(provider, { partition, partitions: this.partitions }),
      maxEventTimeMs: undefined,
      lastRecordAtMs: undefined,
    };
    this.collect(task);
    return task;
  }

  /** Runs work on a task, then moves its store changes to the changelog (through the state codec, as the runtime does). */
  private run(_partition: number, task: Task, work: () => void): void {
    work();
    this.collect(task);
  }

  private collect(task: Task): void {
    for (const [name, store] of task.stores) {
      let log = task.changelog.get(name);
      if (!log) task.changelog.set(name, (log = new Map<string, string | undefined>()));
      for (const [key, value] of store.takeChanges()) log.set(key, value === undefined ? undefined : encodeState(value));
    }
  }

  private emitter(partition: number): Emitter<unknown> {
    return {
      emit: (stream, key, value, timestampMs) => {
        const output: DriverOutput = { stream, key, tenant: splitTenantKey(key)?.tenant, value: decodeState(encodeState(value)), timestampMs, partition };
        this.pending.push(output);
        this.history.push(output);
      },
    };
  }

  private inputNamed(name: string): ResolvedInput {
    for (const input of this.runtime.inputs.values()) if (input.name === name) return input;
    throw new Error(`job ${this.runtime.name} has no input ${name} (inputs: ${Object.keys(this.runtime.job.inputs as JobInputs).join(", ")})`);
  }

  private schemaOf(input: ResolvedInput): DescMessage {
    const declared = (this.runtime.job.inputs as JobInputs)[input.name]?.schema;
    return declared ?? this.registry.eventType(input.type)!.schema;
  }
}
