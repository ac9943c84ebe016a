/**
 * `defineJob`: a stream-processing job as a value a user module exports. A job names its inputs
 * (src/jobs/inputs.ts), filters and maps each record, and hands each key's records to one
 * stateful step (src/jobs/steps.ts); every output stream goes, exactly once, to
 * the results topic of the job, and the streams marked as alerts to the alerts topic too (and so to the
 * webhook). Options are a zod schema: what the operator passes (WEIR_JOB_OPTIONS) is checked at
 * startup, unknown keys and wrong types refused.
 *
 * The job's name and version are its state's identity: state written by another version of the
 * job is refused at restore (WEIR_ERR_JOB_STATE_VERSION) unless the job says how to `migrate` it.
 */
import type { z } from "zod";
import type { JobInputs, RecordMeta, ValueOf } from "./inputs.js";
import type { JobStep } from "./steps.js";

/** One input record as `filter` and `map` see it: which input, its value, tenant, key and time. */
export type InputRecord<I extends JobInputs> = { [K in keyof I & string]: { readonly input: K; readonly value: ValueOf<I[K]> } & RecordMeta }[keyof I & string];

/** The stream inputs' records only. */
export type StreamRecord<I extends JobInputs> = {
  [K in keyof I & string]: I[K] extends { readonly kind: "stream" } ? { readonly input: K; readonly value: ValueOf<I[K]> } & RecordMeta : never;
}[keyof I & string];

/** Lookups in a table, for the tenant of the record being mapped (shared tables: everyone's). */
export type TableView<V> = {
  /** The latest value of `key`. */
  get(key: string): V | undefined;
  /** The value of `key` as of an event time (versioned tables only). */
  asOf(key: string, timestampMs: number): V | undefined;
};

export type TablesOf<I extends JobInputs> = { readonly [K in keyof I as I[K] extends { readonly kind: "table" } ? K : never]: TableView<ValueOf<I[K]>> };

export type MapContext<I extends JobInputs, O> = { readonly options: O; readonly tables: TablesOf<I> };

/** What an alert says, from one output: the runtime adds the job, key, time and the output itself. */
export type AlertInit = {
  /** Stable across replays (derive it from the output's content): the webhook's idempotency key. */
  readonly id: string;
  readonly kind: string;
  /** One line a person can read. */
  readonly summary: string;
};

export type OutputSpec = {
  /**
   * Also deliver each output of this stream as an alert (to weir.alerts and the webhook). `value`
   * is what the step emitted on this stream.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each stream carries its own type; the step's output union does not say which
  readonly alert?: (value: any, key: string) => AlertInit | undefined;
};

/** A stored entry of the job's state, as `migrate` sees it; return null to drop it. */
export type StateEntry = { readonly store: string; readonly key: string; readonly value: unknown };

// Methods, not function properties: a job of any input types must be usable where AnyJob is expected (method parameters are bivariant).
export type JobDefinition<I extends JobInputs, O, M, Out> = {
  /** Lower-case letters, digits and dashes: it names the results topic and the consumer group. */
  readonly name: string;
  /** The layout of the job's state; raise it when stored state changes shape. */
  readonly version: number;
  readonly description?: string;
  /** The options' schema (zod); its parsed output is what `step`, `filter` and `map` get. */
  readonly options?: z.ZodType<O>;
  readonly inputs: I;
  /**
   * End of input: a partition that gets no records for `afterMs` (wall clock) has its watermark
   * follow the clock, so its windows and pattern timeouts close. "never" (the default) waits for
   * records, as Kafka Streams' stream time does.
   */
  readonly idle?: { readonly afterMs: number } | "never";
  /** Keep only the stream records this returns true for (before `map`). */
  filter?(record: StreamRecord<I>, ctx: MapContext<I, O>): boolean;
  /**
   * A record as the step takes it (undefined drops it). Default: the value. A `custom` step also
   * gets the tables' records through here (its operator keeps tables itself).
   */
  map?(record: InputRecord<I>, ctx: MapContext<I, O>): M | undefined;
  /** The stateful step, built once per task from the options. */
  step(ctx: { readonly options: O }): JobStep<M, Out>;
  /** Per output stream: whether it is an alert, and how it reads. Streams not listed are results only. */
  readonly outputs?: Readonly<Record<string, OutputSpec>>;
  /** Converts state written by an earlier version (entry by entry); without it such state is refused. */
  migrate?(fromVersion: number, entry: StateEntry): StateEntry | null;
};

export type Job<I extends JobInputs = JobInputs, O = unknown, M = unknown, Out = unknown> = Readonly<JobDefinition<I, O, M, Out>> & {
  readonly kind: "weir.job";
};

/** A job of any shape, as the runtime handles them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the runtime treats every job alike, whatever its inputs, options and outputs
export type AnyJob = Job<any, any, any, any>;

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Declares a job (checked now: a mistake in the definition fails when the module loads). */
export function defineJob<I extends JobInputs, O = Record<string, never>, M = ValueOf<I[keyof I]>, Out = unknown>(
  definition: JobDefinition<I, O, M, Out>,
): Job<I, O, M, Out> {
  const d = definition;
  const fail = (why: string): never => {
    throw new TypeError(`job ${JSON.stringify(d.name)}: ${why}`);
  };
  if (typeof d.name !== "string" || !NAME.test(d.name)) fail("name must be lower-case letters, digits and dashes, starting with a letter");
  if (!Number.isSafeInteger(d.version) || d.version < 1) fail("version must be an integer >= 1");
  const inputs = Object.entries(d.inputs ?? {});
  if (!inputs.some(([, input]) => input.kind === "stream")) fail("needs at least one stream input");
  const types = new Map<string, string>();
  for (const [name, input] of inputs) {
    if (input.kind !== "stream" && input.kind !== "table") fail(`input ${name} is neither stream() nor table()`);
    const other = types.get(input.type);
    if (other) fail(`inputs ${other} and ${name} read the same event type ${input.type}`);
    types.set(input.type, name);
  }
  if (typeof d.step !== "function") fail("step must be a function of the options returning windowed(), pattern(), keyedProcess() or custom()");
  if (d.idle !== undefined && d.idle !== "never" && !(Number.isSafeInteger(d.idle.afterMs) && d.idle.afterMs > 0))
    fail('idle must be "never" or { afterMs: a positive integer }');
  return Object.freeze({ ...d, kind: "weir.job" as const });
}

export function isJob(value: unknown): value is AnyJob {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "weir.job";
}
