/**
 * The stateful step of a job — what it does with each key's records once they are mapped:
 * - `windowed`: event-time windows (tumbling, hopping, session) with an aggregate, bounded
 *   out-of-orderness and allowed lateness; outputs "results" (WindowResult) and "late".
 * - `pattern`: a FlinkCEP-style pattern per key, each key's records in event-time order (a
 *   per-key watermark); outputs "matches" (or the stream you name; what `select` makes of each
 *   match) and "late".
 * - `keyedProcess`: your own function per record with named keyed stores (state you read and
 *   write), and optionally on each watermark; emits on streams you name.
 * - `custom`: any engine Operator (src/engine/types.ts), for jobs that outgrow the others.
 * Each is a description; the runtime builds the operator over the task's stores (restored from the
 * changelog after a move or a crash), so all state must be plain JSON.
 */
import type { Emitter, EngineRecord, KeyValueStore, Operator, StoreProvider } from "../engine/types.js";
import { WindowedAggregate, windowedAggregateStores, type WindowedAggregateInput } from "../engine/windows/index.js";
import type { WindowedOutput } from "../engine/windows/index.js";
import { CepOperator, type CepContextFold, type CepMatch, type CepOutput } from "../engine/cep/index.js";
import type { Pattern } from "../engine/cep/index.js";

/**
 * How a step's operator learns event time. "records": from the records it sees (their highest event
 * time minus maxOutOfOrdernessMs), as when a task reads one input partition in order. "external":
 * only from advanceWatermark — a repartitioned job's task reads records merged from several source
 * partitions, whose event times are apart; its watermark comes from the sources (the lowest of
 * them, see WatermarkMarker), so a source that is behind does not see its records made late.
 */
export type WatermarkMode = "records" | "external";

/** Event time a record-driven watermark never reaches: an operator in "external" mode waits for advanceWatermark. */
const NEVER_FROM_RECORDS = Number.MAX_SAFE_INTEGER;

/** What the runtime tells a step's operator about where its inputs come from. */
export type StepContext = {
  readonly watermarks: WatermarkMode;
  /** The partitions ("topic/partition") a table input is read from: an operator keeping a table's own event time declares them, so a partition not heard from yet holds it back. */
  readonly tableSources: (input: string) => readonly string[];
};

const NO_CONTEXT: StepContext = { watermarks: "records", tableSources: () => [] };

/** A step: how to build its operator over a task's stores. */
export type JobStep<M, Out> = {
  readonly kind: "windowed" | "pattern" | "keyed-process" | "custom";
  /** The output streams it may emit (checked against the job's declared outputs). */
  readonly streams: readonly string[];
  /** The disorder its watermark tolerates: in "external" mode, the watermark is the sources' event time less this. */
  readonly maxOutOfOrdernessMs: number;
  /**
   * Whether the sources' event time (a repartitioned job's markers) advances its watermark. A
   * pattern keeps per-key event time instead: one key's records are matched in its own order, and
   * a key whose history is behind the others' (a replay, a backfill) must not find it late.
   */
  readonly followsSources: boolean;
  create(stores: StoreProvider, watermarks?: WatermarkMode, context?: StepContext): Operator<M, Out>;
};

/** Event-time windows over each key's records. */
export function windowed<M, A, R>(opts: WindowedAggregateInput<M, A, R>): JobStep<M, WindowedOutput<M, R>> {
  const probe = new WindowedAggregate<M, A, R>(opts, windowedAggregateStores(throwawayStores()));
  return {
    kind: "windowed",
    streams: [probe.options.resultsStream, probe.options.lateStream],
    maxOutOfOrdernessMs: probe.options.maxOutOfOrdernessMs,
    followsSources: true,
    create: (stores, watermarks = "records") =>
      new WindowedAggregate<M, A, R>(watermarks === "external" ? { ...opts, maxOutOfOrdernessMs: NEVER_FROM_RECORDS } : opts, windowedAggregateStores(stores)),
  };
}

export type PatternStepOptions<M, C, N extends string, S> = {
  readonly pattern: Pattern<M, C, N>;
  /** A per-key value folded over the key's events, seen by predicates as ctx.context. */
  readonly context?: CepContextFold<M, C>;
  /** Default 0: records must arrive in event-time order per key (ties in any order). */
  readonly maxOutOfOrdernessMs?: number;
  readonly maxPartialMatchesPerKey?: number;
  readonly maxEventsPerPartialMatch?: number;
  /** What each match becomes (default: the match itself). */
  readonly select?: (match: CepMatch<M, N>) => S;
  /** The stream matches go out on (default "matches"); late records go to "late". */
  readonly matchesStream?: string;
};

/** A pattern per key (FlinkCEP-style, see src/engine/cep/pattern.ts). */
export function pattern<M, C, N extends string, S = CepMatch<M, N>>(opts: PatternStepOptions<M, C, N, S>): JobStep<M, S | CepOutput<M, N>> {
  const select = opts.select;
  return {
    kind: "pattern",
    streams: [opts.matchesStream ?? "matches", "late"],
    maxOutOfOrdernessMs: opts.maxOutOfOrdernessMs ?? 0,
    followsSources: false,
    create: (stores) => {
      const cep = new CepOperator<M, C, N>({
        pattern: opts.pattern,
        store: stores.store("pattern"),
        ...(opts.context ? { context: opts.context } : {}),
        // Per key in both modes: a pattern needs each key's records in event-time order, and a
        // key's watermark (its own highest event time less the disorder) holds only that key's
        // records back. It is safe after a repartition as long as each key's records come from one
        // source partition (producers keyed by the job's key, or a coarser one); otherwise allow
        // for the sources' skew in maxOutOfOrdernessMs.
        maxOutOfOrdernessMs: opts.maxOutOfOrdernessMs ?? 0,
        ...(opts.maxPartialMatchesPerKey !== undefined ? { maxPartialMatchesPerKey: opts.maxPartialMatchesPerKey } : {}),
        ...(opts.maxEventsPerPartialMatch !== undefined ? { maxEventsPerPartialMatch: opts.maxEventsPerPartialMatch } : {}),
        ...(opts.matchesStream !== undefined ? { matchesStream: opts.matchesStream } : {}),
      });
      if (!select) return cep;
      const mapped = (out: Emitter<S | CepOutput<M, N>>): Emitter<CepOutput<M, N>> => ({
        emit: (stream, key, value, ts) => out.emit(stream, key, value.kind === "match" ? select(value) : value, ts),
      });
      return {
        process: (record, out) => cep.process(record, mapped(out)),
        advanceWatermark: (wm, out) => cep.advanceWatermark(wm, mapped(out)),
      };
    },
  };
}

/** What a keyedProcess function may do: read and write its stores, and emit. */
export type KeyedContext<Out> = {
  /** A named store of this job's task. In `process`, keys are the record's tenant's own. */
  store<S>(name: string): KeyValueStore<S>;
  emit(stream: string, key: string, value: Out, timestampMs: number): void;
};

/** A record as keyedProcess sees it: the tenant apart from its own key. */
export type KeyedRecord<M> = { readonly tenant: string; readonly key: string; readonly value: M; readonly timestampMs: number };

export type KeyedProcessOptions<M, Out> = {
  /** The output streams it emits on. */
  readonly streams: readonly string[];
  /** Called per record, in arrival order, with the record's tenant's view of the stores. */
  process(record: KeyedRecord<M>, ctx: KeyedContext<Out>): void;
  /** Called when event time advances; stores and keys here are tenant-qualified ("tenant/key"). */
  onWatermark?(watermarkMs: number, ctx: KeyedContext<Out>): void;
};

/** Your own function per record, over named keyed stores. */
export function keyedProcess<M, Out>(opts: KeyedProcessOptions<M, Out>): JobStep<M, Out> {
  return {
    kind: "keyed-process",
    streams: opts.streams,
    maxOutOfOrdernessMs: 0,
    followsSources: true,
    create: (stores) => ({
      process: (record: EngineRecord<M>, out: Emitter<Out>) => {
        const at = record.key.indexOf("/");
        const tenant = record.key.slice(0, at);
        const prefix = `${tenant}/`;
        opts.process(
          { tenant, key: record.key.slice(at + 1), value: record.value, timestampMs: record.timestampMs },
          { store: (name) => tenantStore(stores.store(name), prefix), emit: (stream, key, value, ts) => out.emit(stream, prefix + key, value, ts) },
        );
      },
      advanceWatermark: opts.onWatermark
        ? (wm, out) => opts.onWatermark!(wm, { store: (name) => stores.store(name), emit: (s, k, v, ts) => out.emit(s, k, v, ts) })
        : undefined,
    }),
  };
}

/**
 * Any engine operator, built over the task's stores. The context says which watermark mode it runs
 * in (in "external" mode its stream's event time comes from advanceStreamTime / advanceWatermark,
 * see WatermarkMode) and where its tables are read from. It gets the tables' records through `map`.
 */
export function custom<M, Out>(streams: readonly string[], create: (stores: StoreProvider, context: StepContext) => Operator<M, Out>): JobStep<M, Out> {
  return {
    kind: "custom",
    streams,
    maxOutOfOrdernessMs: 0,
    followsSources: true,
    create: (stores, watermarks = "records", context = NO_CONTEXT) => create(stores, { ...context, watermarks }),
  };
}

/** A store's view for one tenant: keys are prefixed with "tenant/", entries listed without it. */
function tenantStore<S>(store: KeyValueStore<S>, prefix: string): KeyValueStore<S> {
  return {
    get: (key) => store.get(prefix + key),
    put: (key, value) => store.put(prefix + key, value),
    delete: (key) => store.delete(prefix + key),
    *entries() {
      for (const [key, value] of store.entries()) if (key.startsWith(prefix)) yield [key.slice(prefix.length), value];
    },
  };
}

/** Stores that are never written: enough to build an operator and read its resolved options. */
function throwawayStores(): StoreProvider {
  return {
    store: <S>() => ({ get: () => undefined, put: () => {}, delete: () => {}, entries: () => [] as Array<[string, S]> }),
  };
}
