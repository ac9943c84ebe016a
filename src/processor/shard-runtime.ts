/**
 * One shard of one job inside a worker thread: the operator over in-memory stores, fed records
 * in arrival order, returning what it emitted and which keys it changed (for the changelog).
 */
import { MemoryStore, type Emitter, type Operator } from "../engine/types.js";
import type { JobSpec } from "./jobs.js";
import { unpackRecords, type PackedRecords, type ShardOutput, type ShardResult, type StoreChange } from "./thread-messages.js";

export class ShardRuntime {
  private readonly stores = new Map<string, MemoryStore<unknown>>();
  private readonly operator: Operator<unknown, unknown>;

  constructor(
    private readonly spec: JobSpec,
    restore: readonly StoreChange[] = [],
  ) {
    for (const [store, key, value] of restore) {
      if (value !== null) this.storeOf(store).put(key, value);
    }
    this.operator = spec.create({ store: <S>(name: string) => this.storeOf(name) as MemoryStore<S> });
    this.takeChanges(); // restored entries are already in the changelog
  }

  private storeOf(name: string): MemoryStore<unknown> {
    let store = this.stores.get(name);
    if (!store) this.stores.set(name, (store = new MemoryStore()));
    return store;
  }

  run(records: PackedRecords | undefined, watermarkMs: number | undefined): ShardResult {
    const outputs: ShardOutput[] = [];
    const out: Emitter<unknown> = { emit: (stream, key, value, timestampMs) => outputs.push({ stream, key, value, timestampMs }) };
    if (records) {
      for (const r of unpackRecords(records)) {
        const input = this.spec.inputs[r.type];
        if (!input) continue; // a topic the job does not read
        this.operator.process({ key: r.key, value: input.decode(r.value), timestampMs: r.timestampMs }, out);
      }
    }
    if (watermarkMs !== undefined) this.operator.advanceWatermark?.(watermarkMs, out);
    return { outputs, changes: this.takeChanges() };
  }

  private takeChanges(): StoreChange[] {
    const changes: StoreChange[] = [];
    for (const [name, store] of this.stores) {
      for (const [key, value] of store.takeChanges()) changes.push([name, key, value ?? null]);
    }
    return changes;
  }
}
