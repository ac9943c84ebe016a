/**
 * A task's state on disk, in an LMDB environment of its own (decision 0026): state larger than
 * memory, and a restart that restores from the local copy plus the changelog's tail instead of
 * the whole changelog.
 *
 * What is on disk is always a committed state: a step's writes stay in memory (`pending`) until
 * the processor says the step's Kafka transaction committed (`flush`), and then go to disk in one
 * LMDB transaction together with the checkpoint — a changelog offset from which replaying the
 * changelog brings the local copy up to date. A crash or an aborted transaction leaves the disk at
 * the previous checkpoint; the step is replayed from Kafka. Each store is a named LMDB database;
 * keys sort by code point (UTF-8 byte order), and `entries()` merges the pending writes into that order.
 */
import { mkdirSync } from "node:fs";
import { open, type Database, type RootDatabase } from "lmdb";
import type { KeyValueStore } from "../../engine/types.js";
import type { TaskState } from "../../processor/task-state.js";
import type { StoreChange } from "../../processor/thread-messages.js";

const CHECKPOINT_KEY = "checkpoint";
/** The names of the task's stores (the root database lists them too, but not in a form to read back). */
const STORES_KEY = "stores";
/** A pending delete (a store value is never undefined: it is JSON data). A pending entry is a value or this. */
const DELETED = Symbol("deleted");

/** The local checkpoint: the state holds every changelog record before `changelogOffset`; replaying from there brings it up to date. */
export type LocalCheckpoint = { readonly changelogOffset: number; readonly writtenAtMs: number };

/** Code point order, which is LMDB's order for string keys (their UTF-8 bytes). */
export function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate starts a code point above the whole BMP, U+E000..U+FFFF included.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

class LmdbStore implements KeyValueStore<unknown> {
  /** Written since the last flush: what the disk does not have yet. */
  readonly pending = new Map<string, unknown>();
  /** Changed since the last takeChanges: what the changelog does not have yet. */
  readonly changed = new Set<string>();

  constructor(readonly db: Database<unknown, string>) {}

  get(key: string): unknown {
    const p = this.pending.get(key);
    if (p !== undefined) return p === DELETED ? undefined : p;
    return this.db.get(key);
  }

  put(key: string, value: unknown): void {
    this.pending.set(key, value);
    this.changed.add(key);
  }

  delete(key: string): void {
    this.pending.set(key, DELETED);
    this.changed.add(key);
  }

  /**
   * Every entry in key order, read lazily from disk (state may not fit in memory) and merged with
   * the pending writes as they were when the iteration began; writes during it do not disturb it.
   */
  *entries(): Iterable<[string, unknown]> {
    const pending = [...this.pending].sort(([a], [b]) => byCodePoint(a, b));
    let i = 0;
    for (const { key, value } of this.db.getRange({ snapshot: true })) {
      for (; i < pending.length && byCodePoint(pending[i]![0], key) < 0; i++) if (pending[i]![1] !== DELETED) yield pending[i] as [string, unknown];
      if (i < pending.length && pending[i]![0] === key) {
        if (pending[i]![1] !== DELETED) yield pending[i] as [string, unknown];
        i++;
        continue;
      }
      yield [key, value];
    }
    for (; i < pending.length; i++) if (pending[i]![1] !== DELETED) yield pending[i] as [string, unknown];
  }
}

export class LmdbTaskState implements TaskState {
  private readonly stores = new Map<string, LmdbStore>();

  private constructor(
    private readonly root: RootDatabase<unknown, string>,
    readonly path: string,
  ) {}

  /** Opens (creating it if needed) the state kept in directory `path`. */
  static open(path: string): LmdbTaskState {
    mkdirSync(path, { recursive: true });
    // LMDB's own syncing stays on: without it a machine crash may leave a corrupt copy, not merely an old one.
    const root = open<unknown, string>({ path, maxDbs: 256, compression: false });
    return new LmdbTaskState(root, path);
  }

  checkpoint(): LocalCheckpoint | undefined {
    return this.root.get(CHECKPOINT_KEY) as LocalCheckpoint | undefined;
  }

  store(name: string): LmdbStore {
    let store = this.stores.get(name);
    if (!store) {
      const names = (this.root.get(STORES_KEY) as string[] | undefined) ?? [];
      if (!names.includes(name)) this.root.putSync(STORES_KEY, [...names, name]);
      this.stores.set(name, (store = new LmdbStore(this.root.openDB<unknown, string>({ name, compression: false }))));
    }
    return store;
  }

  /** Every store of the task, on disk or new (opening them). */
  private allStores(): LmdbStore[] {
    for (const name of (this.root.get(STORES_KEY) as string[] | undefined) ?? []) this.store(name);
    return [...this.stores.values()];
  }

  /** Forgets the writes not committed (the task is dropped: its step's transaction may have failed). */
  discardPending(): void {
    for (const store of this.stores.values()) {
      store.pending.clear();
      store.changed.clear();
    }
  }

  /** Empties every store and the checkpoint (a local copy that cannot be used). */
  clear(): void {
    this.discardPending();
    const stores = this.allStores();
    this.root.transactionSync(() => {
      for (const store of stores) void store.db.clearSync();
      void this.root.remove(CHECKPOINT_KEY);
    });
  }

  takeChanges(): StoreChange[] {
    const changes: StoreChange[] = [];
    for (const [name, store] of this.stores) {
      for (const key of [...store.changed].sort(byCodePoint)) {
        const value = store.get(key);
        changes.push([name, key, value === undefined ? null : value]);
      }
      store.changed.clear();
    }
    return changes;
  }

  /** The pending writes are committed (in Kafka): onto the disk, with the new checkpoint, atomically. */
  flush(changelogOffset: number): void {
    this.root.transactionSync(() => {
      for (const store of this.stores.values()) {
        for (const [key, value] of store.pending) {
          if (value === DELETED) void store.db.remove(key);
          else void store.db.put(key, value);
        }
      }
      void this.root.put(CHECKPOINT_KEY, { changelogOffset, writtenAtMs: Date.now() } satisfies LocalCheckpoint);
    });
    for (const store of this.stores.values()) store.pending.clear();
  }

  /**
   * Applies restored changelog entries straight to disk (they are committed already), in order,
   * and, when given, the checkpoint they bring the state to.
   */
  applyCommitted(entries: readonly StoreChange[], changelogOffset?: number): void {
    this.root.transactionSync(() => {
      for (const [name, key, value] of entries) {
        const { db } = this.store(name);
        if (value === null) void db.remove(key);
        else void db.put(key, value);
      }
      if (changelogOffset !== undefined) void this.root.put(CHECKPOINT_KEY, { changelogOffset, writtenAtMs: Date.now() } satisfies LocalCheckpoint);
    });
  }

  /** Entries of a few small stores (the task's identity, its source positions): the processor needs them after a restore. */
  entriesOf(names: readonly string[]): StoreChange[] {
    const out: StoreChange[] = [];
    for (const name of names) for (const [key, value] of this.store(name).entries()) out.push([name, key, value]);
    return out;
  }

  /** How many entries the stores hold (tests, logs): counts by iterating. */
  size(): number {
    let n = 0;
    for (const store of this.allStores()) for (const _ of store.entries()) n++;
    return n;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}
