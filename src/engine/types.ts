/**
 * The stream-processing engine's shared contract. The engine is pure and deterministic:
 * no I/O, no clocks, no randomness. Time is event time carried by records and watermarks passed
 * in; state lives in a KeyValueStore whose changes the runtime writes to a compacted changelog
 * topic, so a restarted processor restores it. Operators emit through an Emitter; the runtime
 * (Kafka, Piscina workers) and the tests (EngineTestDriver) provide both.
 */

/** One input record: key (the partition key), value, and event time in ms since the epoch. */
export type EngineRecord<V> = {
  readonly key: string;
  readonly value: V;
  readonly timestampMs: number;
};

/**
 * Keyed state. Values must be plain JSON-serialisable data (no class instances, Maps or
 * functions): the runtime serialises changed keys to the changelog and restores them later.
 */
export interface KeyValueStore<S> {
  get(key: string): S | undefined;
  put(key: string, value: S): void;
  delete(key: string): void;
  /**
   * Every entry, in key order (deterministic), as it was when the iteration began: puts and
   * deletes during the iteration do not change what it yields (operators update entries as they
   * walk them). Lazy where the store is on disk, so a walk never holds the whole state in memory.
   */
  entries(): Iterable<[string, S]>;
}

/** Hands out named stores to an operator factory (the runtime's shard, or EngineTestDriver). */
export interface StoreProvider {
  store<S>(name: string): KeyValueStore<S>;
}

/** Where an operator's results go; `stream` names the output (e.g. "results", "late"). */
export interface Emitter<O> {
  emit(stream: string, key: string, value: O, timestampMs: number): void;
}

/** A stateful operator. Implementations are classes or closures over their options, never globals. */
export interface Operator<I, O> {
  /** Handles one record in arrival order (which may differ from event-time order). */
  process(record: EngineRecord<I>, out: Emitter<O>): void;
  /** Event time has advanced to `watermarkMs`: no record with an earlier time is expected any more. */
  advanceWatermark?(watermarkMs: number, out: Emitter<O>): void;
  /**
   * The partitioned (stream) input alone has reached `eventTimeMs` on every source partition (a
   * repartitioned job's watermark markers). An operator that also reads tables with their own
   * event time (e.g. quotes) implements this to advance the stream's side only; without it the
   * runtime calls advanceWatermark.
   */
  advanceStreamTime?(eventTimeMs: number, out: Emitter<O>): void;
}

/** A plain in-memory store (tests, and the runtime's working copy before the changelog). */
export class MemoryStore<S> implements KeyValueStore<S> {
  private readonly map = new Map<string, S>();
  /** Keys changed since the last `takeChanges()`: what the runtime writes to the changelog. */
  private readonly changed = new Set<string>();

  get(key: string): S | undefined {
    return this.map.get(key);
  }

  put(key: string, value: S): void {
    this.map.set(key, value);
    this.changed.add(key);
  }

  delete(key: string): void {
    this.map.delete(key);
    this.changed.add(key);
  }

  entries(): Iterable<[string, S]> {
    return [...this.map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  get size(): number {
    return this.map.size;
  }

  /** Changed keys with their new value (undefined = deleted), and forget them. */
  takeChanges(): Array<[string, S | undefined]> {
    const out = [...this.changed].sort().map((k): [string, S | undefined] => [k, this.map.get(k)]);
    this.changed.clear();
    return out;
  }
}
