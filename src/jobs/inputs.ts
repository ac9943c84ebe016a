/**
 * A job's inputs: the event types it reads, named. Two kinds, as in Kafka Streams:
 * - a **stream** is partitioned: each record is processed once, by the task of its key, with that
 *   key's state. The key is the producer's partition key unless the input declares `key`; then the
 *   runtime re-keys the records through an internal repartition topic (exactly once) so each key
 *   of the job lives on one task whatever the producers chose.
 * - a **table** is read in full by every task (a global table): reference data, quotes. Its
 *   records update a table (the latest value per key, or a versioned history for event-time
 *   joins) rather than being processed as events. A table belongs to each tenant (`scope:
 *   "tenant"`: a tenant's records are seen only with its own data) or is shared (`scope: "shared"`:
 *   everyone reads it, only the tenants in `writers` may write it; other tenants' records are
 *   refused onto the "rejected" output).
 *
 * A type is given by its generated protobuf-es schema (values typed as the message) or by its full
 * name, resolved from the schema image at startup (values are the decoded messages; give their
 * TypeScript shape as the type parameter).
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";

/** What a job's functions know of a record besides its value. */
export type RecordMeta = {
  /** The tenant that published it. */
  readonly tenant: string;
  /** Its Kafka key: the producer's partition key (or the event id when it had none). */
  readonly key: string;
  /** Event time, ms since the epoch. */
  readonly timestampMs: number;
  /** Table records: the partition they were read from ("topic/partition"), for per-partition event time. */
  readonly source?: string;
};

type InputBase<V> = {
  /** Full event type name (the envelope's `type`). */
  readonly type: string;
  /** The generated schema; undefined: resolved by name from the schema image. */
  readonly schema: DescMessage | undefined;
  /** Phantom: the value type. */
  readonly __value?: V;
};

export type StreamInput<V> = InputBase<V> & {
  readonly kind: "stream";
  /** The job's key for a record; undefined: the record's Kafka key (no repartition). */
  readonly key: ((value: V, meta: RecordMeta) => string) | undefined;
};

export type TableScope = "tenant" | "shared";

export type VersionedHistory = {
  /** How far back (event time, behind the table's watermark) versions are kept for as-of lookups. */
  readonly historyMs: number;
  /** At most this many versions per key (default 1000). */
  readonly maxVersions?: number;
};

export type TableInput<V> = InputBase<V> & {
  readonly kind: "table";
  /** The table key of a record (e.g. an instrument's symbol). */
  readonly key: (value: V, meta: RecordMeta) => string;
  readonly scope: TableScope;
  /** Shared tables: the tenants allowed to write, or a function of the job's options. */
  readonly writers: readonly string[] | ((options: never) => readonly string[]) | undefined;
  /** Keep a history per key for lookups as of an event time (temporal joins). */
  readonly versioned: VersionedHistory | undefined;
  /** Tolerated disorder of the table's records when computing its watermark (default 0). */
  readonly maxOutOfOrdernessMs: number;
};

export type JobInput = StreamInput<unknown> | TableInput<unknown>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- inputs of any value types (their records are typed per input by ValueOf)
export type JobInputs = Readonly<Record<string, StreamInput<any> | TableInput<any>>>;

/** The value type of an input. */
export type ValueOf<In> = In extends { readonly __value?: infer V } ? V : never;

type TypeRef = DescMessage | string;
function typeOf(ref: TypeRef): { type: string; schema: DescMessage | undefined } {
  return typeof ref === "string" ? { type: ref, schema: undefined } : { type: ref.typeName, schema: ref };
}

export type StreamOptions<V> = {
  /** The job's key of a record (default: the record's Kafka key, as produced). */
  readonly key?: (value: V, meta: RecordMeta) => string;
};

/** A partitioned input of event type `type`: a generated schema (values typed as its message), or a type name from the schema image (give the value's shape as `V`). */
export function stream<D extends DescMessage>(schema: D, opts?: StreamOptions<MessageShape<D>>): StreamInput<MessageShape<D>>;
export function stream<V = Record<string, unknown>>(type: string, opts?: StreamOptions<V>): StreamInput<V>;
export function stream<V>(type: TypeRef, opts: StreamOptions<V> = {}): StreamInput<V> {
  return Object.freeze({ kind: "stream", ...typeOf(type), key: opts.key });
}

export type TableOptions<V> = {
  readonly key: (value: V, meta: RecordMeta) => string;
  readonly scope: TableScope;
  readonly writers?: readonly string[] | ((options: never) => readonly string[]);
  readonly versioned?: VersionedHistory;
  readonly maxOutOfOrdernessMs?: number;
};

/** A table read in full by every task, from event type `type` (a generated schema, or a type name from the schema image). */
export function table<D extends DescMessage>(schema: D, opts: TableOptions<MessageShape<D>>): TableInput<MessageShape<D>>;
export function table<V = Record<string, unknown>>(type: string, opts: TableOptions<V>): TableInput<V>;
export function table<V>(type: TypeRef, opts: TableOptions<V>): TableInput<V> {
  if (opts.scope === "tenant" && opts.writers !== undefined)
    throw new TypeError(`table ${typeOf(type).type}: writers apply to shared tables only (a tenant's table is written by that tenant)`);
  return Object.freeze({
    kind: "table",
    ...typeOf(type),
    key: opts.key,
    scope: opts.scope,
    writers: opts.writers,
    versioned: opts.versioned,
    maxOutOfOrdernessMs: opts.maxOutOfOrdernessMs ?? 0,
  });
}
