/**
 * A task's stores, wherever they live: in memory (the default) or on disk (LmdbTaskState,
 * WEIR_STATE_DIR). The task reads and writes through `store(name)`; after each step the runtime
 * takes the entries changed since the previous step for the changelog (`takeChanges`).
 */
import { MemoryStore, type KeyValueStore } from "../engine/types.js";
import type { StoreChange } from "./thread-messages.js";

export interface TaskState {
  store(name: string): KeyValueStore<unknown>;
  /** Entries changed since the last call (value null = deleted), store by store. */
  takeChanges(): StoreChange[];
}

export class MemoryTaskState implements TaskState {
  private readonly stores = new Map<string, MemoryStore<unknown>>();

  store(name: string): MemoryStore<unknown> {
    let store = this.stores.get(name);
    if (!store) this.stores.set(name, (store = new MemoryStore()));
    return store;
  }

  takeChanges(): StoreChange[] {
    const changes: StoreChange[] = [];
    for (const [name, store] of this.stores) for (const [key, value] of store.takeChanges()) changes.push([name, key, value ?? null]);
    return changes;
  }
}
