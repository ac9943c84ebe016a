/**
 * EngineTestDriver: runs one Operator synchronously against in-memory stores, in the spirit of
 * Kafka Streams' TopologyTestDriver. Pipe records and watermarks in, read emitted records out,
 * inspect the stores, and restore a fresh operator from a snapshot or the stores' changelog to
 * prove its state survives a restart. Pure: no timers, no I/O.
 *
 * The operator is built by a factory that asks the driver for named stores, so the driver can
 * build it again over restored stores:
 *
 *   const driver = new EngineTestDriver((stores) =>
 *     new WindowedAggregate(options, { windows: stores.store("windows"), progress: stores.store("progress") }));
 */
import { MemoryStore, type Emitter, type EngineRecord, type KeyValueStore, type Operator, type StoreProvider } from "../types.js";

/** Any operator (Operator's methods are bivariant in their parameters, so `unknown` admits every one). */
export type AnyOperator = Operator<unknown, unknown>;
export type InputOf<Op> = Op extends Operator<infer I, unknown> ? I : never;
export type OutputOf<Op> = Op extends Operator<unknown, infer O> ? O : never;

export type { StoreProvider };

export type OperatorFactory<Op extends AnyOperator> = (stores: StoreProvider) => Op;

/** One emitted record, with the stream it was emitted on. */
export type OutputRecord<O> = {
  readonly stream: string;
  readonly key: string;
  readonly value: O;
  readonly timestampMs: number;
};

/** Plain JSON copy of every store's entries, by store name (each in key order). */
export type StoreSnapshot = Readonly<Record<string, ReadonlyArray<readonly [string, unknown]>>>;

/** One changelog entry: the key's new value, or undefined for a deletion (a tombstone). */
export type ChangelogEntry = readonly [key: string, value: unknown];

export type EngineTestDriverOptions = {
  /** Store contents to start from (e.g. from `snapshot()` or `changelogSnapshot()`). */
  readonly snapshot?: StoreSnapshot;
};

/** JSON round trip: copies, and fails loudly on state that would not survive the changelog. */
function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export class EngineTestDriver<Op extends AnyOperator> {
  readonly operator: Op;
  private readonly stores = new Map<string, MemoryStore<unknown>>();
  private readonly changelogs = new Map<string, ChangelogEntry[]>();
  private pending: Array<OutputRecord<OutputOf<Op>>> = [];
  private readonly history: Array<OutputRecord<OutputOf<Op>>> = [];
  private readonly emitter: Emitter<OutputOf<Op>>;

  constructor(
    private readonly factory: OperatorFactory<Op>,
    options: EngineTestDriverOptions = {},
  ) {
    const snapshot = options.snapshot ?? {};
    const provider: StoreProvider = {
      store: <S>(name: string): KeyValueStore<S> => {
        let store = this.stores.get(name);
        if (store === undefined) {
          store = new MemoryStore<unknown>();
          for (const [key, value] of snapshot[name] ?? []) store.put(key, jsonCopy(value));
          this.stores.set(name, store);
          this.changelogs.set(name, []);
        }
        return store as KeyValueStore<S>;
      },
    };
    this.emitter = {
      emit: (stream, key, value, timestampMs) => {
        const record = { stream, key, value, timestampMs };
        this.pending.push(record);
        this.history.push(record);
      },
    };
    this.operator = factory(provider);
    this.collectChanges();
  }

  /** Processes one record. */
  pipeInput(key: string, value: InputOf<Op>, timestampMs: number): this {
    this.operator.process({ key, value, timestampMs }, this.emitter);
    this.collectChanges();
    return this;
  }

  /** Processes records in the given (arrival) order. */
  pipeRecords(records: Iterable<EngineRecord<InputOf<Op>>>): this {
    for (const r of records) this.pipeInput(r.key, r.value, r.timestampMs);
    return this;
  }

  /** Advances event time; a no-op for operators without watermark handling. */
  advanceWatermark(watermarkMs: number): this {
    this.operator.advanceWatermark?.(watermarkMs, this.emitter);
    this.collectChanges();
    return this;
  }

  /** Removes and returns the records emitted since the last read (of that stream, if given), in order. */
  readOutput(stream?: string): Array<OutputRecord<OutputOf<Op>>> {
    if (stream === undefined) {
      const out = this.pending;
      this.pending = [];
      return out;
    }
    const out = this.pending.filter((r) => r.stream === stream);
    this.pending = this.pending.filter((r) => r.stream !== stream);
    return out;
  }

  /** The values of `readOutput(stream)`. */
  readValues(stream?: string): Array<OutputOf<Op>> {
    return this.readOutput(stream).map((r) => r.value);
  }

  /** Every record emitted since this driver was created (of that stream, if given), read or not. */
  readAll(stream?: string): Array<OutputRecord<OutputOf<Op>>> {
    return stream === undefined ? [...this.history] : this.history.filter((r) => r.stream === stream);
  }

  /** A store the operator asked for, for assertions. */
  store<S>(name: string): MemoryStore<S> {
    const store = this.stores.get(name);
    if (store === undefined) throw new Error(`no store named ${name} (known: ${this.storeNames().join(", ")})`);
    return store as MemoryStore<S>;
  }

  storeNames(): string[] {
    return [...this.stores.keys()].sort();
  }

  /** Every store's entries, as JSON-copied plain data. */
  snapshot(): StoreSnapshot {
    const out: Record<string, Array<[string, unknown]>> = {};
    for (const name of this.storeNames()) out[name] = jsonCopy([...this.store(name).entries()]);
    return out;
  }

  /** Every change the runtime would have written to a store's changelog topic, in order. */
  changelog(name: string): ReadonlyArray<ChangelogEntry> {
    const log = this.changelogs.get(name);
    if (log === undefined) throw new Error(`no store named ${name}`);
    return log;
  }

  /** The store contents rebuilt by replaying each changelog (last value per key wins, tombstones delete). */
  changelogSnapshot(): StoreSnapshot {
    const out: Record<string, Array<[string, unknown]>> = {};
    for (const name of this.storeNames()) {
      const compacted = new Map<string, unknown>();
      for (const [key, value] of this.changelog(name)) {
        if (value === undefined) compacted.delete(key);
        else compacted.set(key, value);
      }
      out[name] = [...compacted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    }
    return out;
  }

  /**
   * A new driver with a new operator from the same factory, its stores loaded from `snapshot`
   * (default: replaying this driver's changelogs), as after a processor restart. Outputs start empty.
   */
  restore(snapshot: StoreSnapshot = this.changelogSnapshot()): EngineTestDriver<Op> {
    return new EngineTestDriver(this.factory, { snapshot });
  }

  /** Moves each store's changed keys to its changelog (JSON-copied, as a changelog would serialise them). */
  private collectChanges(): void {
    for (const [name, store] of this.stores) {
      const log = this.changelogs.get(name) as ChangelogEntry[];
      for (const [key, value] of store.takeChanges()) log.push([key, value === undefined ? undefined : jsonCopy(value)]);
    }
  }
}
