/**
 * One task — one job on one input partition, as in Kafka Streams — inside a worker thread: the
 * operator over in-memory stores, fed records in arrival order. A task's state is exactly what its
 * changelog partition holds, so a partition can move to another processor with its state.
 */
import { MemoryStore, type Emitter, type Operator } from "../engine/types.js";
import type { JobOptions, JobSpec } from "./jobs.js";
import type { StoreChange } from "./thread-messages.js";

export type TaskOutput = { stream: string; key: string; value: unknown; timestampMs: number };

/**
 * The store holding, per global-table source ("topic/partition"), the offset of the last broadcast
 * record this task applied. It is changelogged with the rest of the task's state, so after a
 * restore the task knows exactly which global records it has seen.
 */
export const GLOBAL_POSITIONS_STORE = "__global_positions";

export class ShardRuntime {
  private readonly stores = new Map<string, MemoryStore<unknown>>();
  private readonly operator: Operator<unknown, unknown>;

  constructor(
    private readonly spec: JobSpec,
    restore: readonly StoreChange[] = [],
    options: JobOptions = {},
  ) {
    for (const [store, key, value] of restore) {
      if (value !== null) this.storeOf(store).put(key, value);
    }
    this.operator = spec.create({ store: <S>(name: string) => this.storeOf(name) as MemoryStore<S> }, options);
    this.takeChanges(); // restored entries are already in the changelog
  }

  private storeOf(name: string): MemoryStore<unknown> {
    let store = this.stores.get(name);
    if (!store) this.stores.set(name, (store = new MemoryStore()));
    return store;
  }

  /**
   * Processes one record of this task's partition (or a broadcast one); unknown types are skipped,
   * and so is a broadcast record at or below this task's position in its source.
   */
  process(type: string, key: string, payload: Uint8Array, timestampMs: number, out: TaskOutput[], source?: { name: string; offset: number }): void {
    const input = this.spec.inputs[type];
    if (!input) return;
    if (source) {
      const positions = this.storeOf(GLOBAL_POSITIONS_STORE);
      const seen = positions.get(source.name) as number | undefined;
      if (seen !== undefined && source.offset <= seen) return;
      positions.put(source.name, source.offset);
    }
    this.operator.process({ key, value: input.decode(payload, key), timestampMs }, this.emitter(out));
  }

  advanceWatermark(watermarkMs: number, out: TaskOutput[]): void {
    this.operator.advanceWatermark?.(watermarkMs, this.emitter(out));
  }

  private emitter(out: TaskOutput[]): Emitter<unknown> {
    return { emit: (stream, key, value, timestampMs) => out.push({ stream, key, value, timestampMs }) };
  }

  /** Store entries changed since the last call (value null = deleted). */
  takeChanges(): StoreChange[] {
    const changes: StoreChange[] = [];
    for (const [name, store] of this.stores) {
      for (const [key, value] of store.takeChanges()) changes.push([name, key, value ?? null]);
    }
    return changes;
  }
}
