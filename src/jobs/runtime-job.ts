/**
 * A job bound to what it runs against: its options checked, each input's event type resolved in
 * the schema image (topic, partitions, decoder), and what the runtime needs to know — which inputs
 * are partitioned and which are tables, whether records must be re-keyed through a repartition
 * topic, the alerts among its outputs, and its state's identity. Built the same way in the
 * processor's main thread, in every worker thread, and in the job test driver.
 */
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { WeirError } from "../errors.js";
import type { AlertRecord } from "../kafka-contract.js";
import type { StoreProvider } from "../engine/types.js";
import type { SchemaRegistry } from "../schema/registry.js";
import { envPathLabel, parseWithSchema } from "../config/schema-check.js";
import type { AnyJob } from "./define-job.js";
import type { JobInputs } from "./inputs.js";
import { JobOperator, REJECTED_STREAM } from "./job-operator.js";

export type ResolvedInput = {
  /** The input's name in the job. */
  readonly name: string;
  readonly kind: "stream" | "table";
  readonly type: string;
  readonly topic: string;
  readonly partitions: number;
  /** The record value: the payload decoded with the type's schema. */
  decode(payload: Uint8Array): unknown;
  /** Stream inputs with a `key`: the job's key of a record (for the repartition step). */
  readonly jobKey: ((value: unknown, meta: { tenant: string; key: string; timestampMs: number }) => string) | undefined;
};

/** The store and key of the job's identity in every task's state (changelogged with it). */
export const JOB_IDENTITY_STORE = "__job";
export const JOB_IDENTITY_KEY = "identity";
export type JobIdentity = { readonly name: string; readonly version: number };

/**
 * Where a job runs among regions (decision 0027): the other regions whose topics MirrorMaker 2
 * replicates here as `<region>.<topic>`. The job reads its inputs from every region, and its
 * tasks drop a stream event whose id they have seen within `dedupWindowMs` of event time.
 */
export type JobRegions = { readonly remote: readonly string[]; readonly dedupWindowMs: number };

const REGION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A topic of another region, as MirrorMaker 2's default replication policy names it here. */
export const mirroredTopic = (region: string, topic: string): string => `${region}.${topic}`;

export class RuntimeJob {
  readonly name: string;
  readonly version: number;
  /** By full event type name. */
  readonly inputs: ReadonlyMap<string, ResolvedInput>;
  /** Whether stream records go through the repartition topic first (a declared key, or streams on several topics). */
  readonly repartition: boolean;
  /** The other regions the job also reads (undefined: one region). */
  readonly regions: JobRegions | undefined;
  /** Topics of the stream inputs, and of the table inputs (with their mirrors of the other regions). */
  readonly streamTopics: readonly string[];
  readonly tableTopics: readonly string[];
  /** Wall-clock idle time after which a partition's watermark follows the clock (undefined: never). */
  readonly idleAfterMs: number | undefined;
  /** Every output stream the job may write. */
  readonly streams: readonly string[];

  constructor(
    readonly job: AnyJob,
    /** The options as checked (zod's output). */
    readonly options: unknown,
    registry: SchemaRegistry,
    /** Absent or no remote region: the job reads this region's topics only. */
    regions?: JobRegions,
  ) {
    this.name = job.name;
    this.version = job.version;
    const inputs = new Map<string, ResolvedInput>();
    for (const [name, input] of Object.entries(job.inputs as JobInputs)) {
      const type = registry.eventType(input.type);
      if (!type) throw new WeirError("WEIR_ERR_JOB", job.name, `input ${name}: event type ${input.type} is not in the schema image (${registry.source})`);
      const schema: DescMessage = input.schema ?? type.schema;
      const key = input.kind === "stream" ? input.key : undefined;
      inputs.set(input.type, {
        name,
        kind: input.kind,
        type: input.type,
        topic: type.topic,
        partitions: type.partitions,
        decode: (payload) => fromBinary(schema, payload),
        jobKey: key as ResolvedInput["jobKey"],
      });
    }
    this.inputs = inputs;
    const bad = regions?.remote.find((r) => !REGION_NAME.test(r));
    if (bad !== undefined) throw new WeirError("WEIR_ERR_CONFIG", `WEIR_REMOTE_REGIONS: region name "${bad}" must be 1-64 letters, digits, _ or -`);
    this.regions = regions && regions.remote.length > 0 ? regions : undefined;
    const streams = [...inputs.values()].filter((i) => i.kind === "stream");
    const localStreamTopics = [...new Set(streams.map((i) => i.topic))];
    const localTableTopics = [...new Set([...inputs.values()].filter((i) => i.kind === "table").map((i) => i.topic))];
    const shared = localTableTopics.find((t) => localStreamTopics.includes(t));
    if (shared) throw new WeirError("WEIR_ERR_JOB", job.name, `topic ${shared} holds both a stream and a table input of the job`);
    this.streamTopics = localStreamTopics.flatMap((t) => this.inEveryRegion(t));
    this.tableTopics = localTableTopics.flatMap((t) => this.inEveryRegion(t));
    this.repartition = streams.some((i) => i.jobKey !== undefined) || this.streamTopics.length > 1;
    this.idleAfterMs = job.idle === undefined || job.idle === "never" ? undefined : job.idle.afterMs;
    const step = job.step({ options });
    this.streams = [...new Set([...step.streams, REJECTED_STREAM])];
    for (const stream of Object.keys(job.outputs ?? {})) {
      if (!this.streams.includes(stream))
        throw new WeirError("WEIR_ERR_JOB", job.name, `outputs names stream ${stream}, which its step does not emit (it emits ${this.streams.join(", ")})`);
    }
  }

  /** Checks a job's options (from WEIR_JOB_OPTIONS) and binds the job to a schema image. */
  static resolve(job: AnyJob, rawOptions: unknown, registry: SchemaRegistry, regions?: JobRegions): RuntimeJob {
    const options: unknown = job.options
      ? parseWithSchema(job.options, rawOptions ?? {}, envPathLabel(`WEIR_JOB_OPTIONS.${job.name}`))
      : refuseOptions(job, rawOptions);
    return new RuntimeJob(job, options, registry, regions);
  }

  /** The operator of one task (`task`: its partition of how many), over the task's stores; a repartitioned job's watermark comes from its sources. */
  createOperator(stores: StoreProvider, task?: { readonly partition: number; readonly partitions: number }): JobOperator {
    const watermarks = this.repartition ? "external" : "records";
    return new JobOperator(this.job, this.options, stores, watermarks, { watermarks, tableSources: (name) => this.tableSources(name) }, task);
  }

  /** A topic of this region and its mirrors from the other regions the job reads (just the topic in one region). */
  inEveryRegion(topic: string): string[] {
    return [topic, ...(this.regions?.remote ?? []).map((r) => mirroredTopic(r, topic))];
  }

  /** The partitions ("topic/partition") a table input is read from. */
  tableSources(name: string): string[] {
    const input = [...this.inputs.values()].find((i) => i.name === name && i.kind === "table");
    if (!input) return [];
    return this.inEveryRegion(input.topic).flatMap((topic) => Array.from({ length: input.partitions }, (_, p) => `${topic}/${p}`));
  }

  /** The alert an output makes, if its stream is an alert stream. */
  alertOf(output: { stream: string; key: string; value: unknown; timestampMs: number }): AlertRecord | undefined {
    const init = this.job.outputs?.[output.stream]?.alert?.(output.value, output.key);
    if (!init) return undefined;
    return { alertId: init.id, job: this.name, kind: init.kind, key: output.key, atMs: output.timestampMs, summary: init.summary, detail: output.value };
  }

  /** The number of tasks: the most partitions among the stream inputs' topics. */
  get partitions(): number {
    return Math.max(...[...this.inputs.values()].filter((i) => i.kind === "stream").map((i) => i.partitions));
  }

  isStream(type: string): boolean {
    return this.inputs.get(type)?.kind === "stream";
  }

  isTable(type: string): boolean {
    return this.inputs.get(type)?.kind === "table";
  }

  /** Refuses restored state of another job or another version of it (unless the job migrates it). */
  checkIdentity(stored: JobIdentity | undefined): "same" | "migrate" {
    if (!stored) return "same";
    if (stored.name !== this.name) throw new WeirError("WEIR_ERR_JOB_STATE_VERSION", this.name, `state belongs to job ${stored.name}`);
    if (stored.version === this.version) return "same";
    if (stored.version < this.version && this.job.migrate) return "migrate";
    throw new WeirError(
      "WEIR_ERR_JOB_STATE_VERSION",
      this.name,
      `state is version ${stored.version}, the job is version ${this.version}; give the job a migrate() from ${stored.version}, or run it under a new consumer group (WEIR_PROCESSOR_GROUP_PREFIX) to start from empty state`,
    );
  }
}

function refuseOptions(job: AnyJob, raw: unknown): Record<string, never> {
  if (raw !== undefined && !(typeof raw === "object" && raw !== null && Object.keys(raw).length === 0)) {
    throw new WeirError("WEIR_ERR_CONFIG", `WEIR_JOB_OPTIONS.${job.name}: the job takes no options`);
  }
  return {};
}
