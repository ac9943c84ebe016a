/**
 * IndexedDbOutbox: a durable Outbox for browsers (and workers), on the standard `indexedDB`
 * global only. One database per outbox name, one object store ("entries") with autoIncrement
 * keys holding `{ id, bytes }`, so key order is append order. An in-memory id → key map, built
 * when the outbox opens, turns remove(ids) into deletes by key.
 *
 * append() is one readwrite transaction and resolves on its `complete` event, which is
 * IndexedDB's durability point; the transaction asks for `durability: "strict"` (flushed to disk
 * before `complete`; browsers without the option ignore it). remove() is one transaction
 * deleting the keys. Operations run one at a time, in call order.
 *
 * Single writer: where the Web Locks API exists (all current browsers), open() takes the lock
 * "weir-outbox:<name>" and fails if another tab or worker holds it; the lock goes when the
 * outbox closes or the page goes away.
 *
 * tsconfig has no DOM lib (the SDK also builds for Node), so the few IndexedDB and Web Locks
 * shapes used are declared here.
 */
import { WeirOutboxError, type Outbox, type OutboxEntry } from "./outbox.js";

const STORE = "entries";

type Handler = ((ev: unknown) => void) | null;
interface Request<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: Handler;
  onerror: Handler;
}
interface OpenRequest extends Request<Database> {
  onupgradeneeded: Handler;
  onblocked: Handler;
}
interface Database {
  readonly objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string, options: { autoIncrement: boolean }): unknown;
  transaction(stores: string, mode: "readonly" | "readwrite", options?: { durability: "strict" | "relaxed" | "default" }): Transaction;
  close(): void;
  onversionchange: Handler;
  onclose: Handler;
}
interface Transaction {
  objectStore(name: string): Store;
  readonly error: unknown;
  oncomplete: Handler;
  onerror: Handler;
  onabort: Handler;
  abort(): void;
}
interface Store {
  add(value: StoredEntry): Request<unknown>;
  delete(key: IDBKey): Request<undefined>;
  getAll(): Request<StoredEntry[]>;
  getAllKeys(): Request<IDBKey[]>;
}
interface Factory {
  open(name: string, version: number): OpenRequest;
}
interface LockManager {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void> | undefined): Promise<unknown>;
}
type IDBKey = number;
type StoredEntry = { id: string; bytes: Uint8Array };

export class IndexedDbOutbox implements Outbox {
  private chain: Promise<unknown> = Promise.resolve();
  private state: "open" | "closed" | "failed" = "open";
  private closing: Promise<void> | undefined;

  private constructor(
    readonly name: string,
    private readonly db: Database,
    private readonly keys: Map<string, IDBKey>,
    private initial: OutboxEntry[] | undefined,
    private readonly releaseLock: () => void,
  ) {
    // Another tab upgrading or deleting the database: let it, and fail from now on.
    db.onversionchange = () => {
      db.close();
      this.state = "failed";
    };
    // The browser closed the connection (storage cleared, disk error).
    db.onclose = () => {
      this.state = "failed";
    };
  }

  static async open(name = "weir-outbox"): Promise<IndexedDbOutbox> {
    const idb = (globalThis as unknown as { indexedDB?: Factory }).indexedDB;
    if (idb === undefined) throw new WeirOutboxError("IndexedDB is not available here (use FileOutbox on Node and Deno)");
    const releaseLock = await takeLock(name);
    let db: Database | undefined;
    try {
      db = await openDb(idb, name);
      const tx = db.transaction(STORE, "readonly");
      const store = tx.objectStore(STORE);
      const keysReq = store.getAllKeys();
      const valuesReq = store.getAll();
      await done(tx, `loading outbox ${name}`);
      const keys = new Map<string, IDBKey>();
      const initial: OutboxEntry[] = [];
      keysReq.result.forEach((key, i) => {
        const v = valuesReq.result[i]!;
        keys.set(v.id, key);
        initial.push({ id: v.id, bytes: v.bytes });
      });
      return new IndexedDbOutbox(name, db, keys, initial, releaseLock);
    } catch (err) {
      db?.close();
      releaseLock();
      throw err;
    }
  }

  /** Live entries. */
  get size(): number {
    return this.keys.size;
  }

  load(): Promise<OutboxEntry[]> {
    return this.serial(async () => {
      if (this.initial !== undefined) {
        const entries = this.initial;
        this.initial = undefined;
        return entries;
      }
      const tx = this.db.transaction(STORE, "readonly");
      const req = tx.objectStore(STORE).getAll();
      await done(tx, `loading outbox ${this.name}`);
      return req.result.map((v) => ({ id: v.id, bytes: v.bytes }));
    });
  }

  append(entries: readonly OutboxEntry[]): Promise<void> {
    return this.serial(async () => {
      if (entries.length === 0) return;
      this.initial = undefined;
      const tx = this.db.transaction(STORE, "readwrite", { durability: "strict" });
      const store = tx.objectStore(STORE);
      const added: Array<[string, IDBKey]> = [];
      for (const e of entries) {
        // Structured clone copies a view's whole buffer: store exactly the event's bytes.
        const bytes = e.bytes.byteOffset === 0 && e.bytes.byteLength === e.bytes.buffer.byteLength ? e.bytes : e.bytes.slice();
        const req = store.add({ id: e.id, bytes });
        req.onsuccess = () => added.push([e.id, req.result as IDBKey]);
      }
      await done(tx, `appending to outbox ${this.name}`);
      for (const [id, key] of added) this.keys.set(id, key);
    });
  }

  remove(ids: readonly string[]): Promise<void> {
    return this.serial(async () => {
      const gone = new Map<string, IDBKey>();
      for (const id of ids) {
        const key = this.keys.get(id);
        if (key !== undefined) gone.set(id, key);
      }
      if (gone.size === 0) return;
      this.initial = undefined;
      const tx = this.db.transaction(STORE, "readwrite", { durability: "strict" });
      const store = tx.objectStore(STORE);
      for (const key of gone.values()) store.delete(key);
      await done(tx, `removing from outbox ${this.name}`);
      for (const id of gone.keys()) this.keys.delete(id);
    });
  }

  close(): Promise<void> {
    this.closing ??= this.chain.then(() => {
      if (this.state !== "closed") {
        this.state = "closed";
        this.db.close();
        this.releaseLock();
      }
    });
    return this.closing;
  }

  /** Runs operations one at a time, in call order. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) return Promise.reject(new WeirOutboxError(`outbox ${this.name} is closed`));
    const run = this.chain.then(() => {
      if (this.state === "failed") throw new WeirOutboxError(`outbox ${this.name}: the database connection was closed by the browser`);
      return op();
    });
    this.chain = run.catch(() => {});
    return run;
  }
}

function openDb(idb: Factory, name: string): Promise<Database> {
  return new Promise((resolve, reject) => {
    const req = idb.open(name, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { autoIncrement: true });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new WeirOutboxError(`cannot open outbox ${name}: ${messageOf(req.error)}`, { cause: req.error }));
    req.onblocked = () => reject(new WeirOutboxError(`cannot open outbox ${name}: blocked by another connection on an older version`));
  });
}

/** Resolves when the transaction commits; rejects when it aborts (quota, I/O error). */
function done(tx: Transaction, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(new WeirOutboxError(`${what} failed: ${messageOf(tx.error) || "transaction aborted"}`, { cause: tx.error }));
  });
}

/** The Web Locks lock for this outbox, held until the returned function is called; a no-op where the API is missing. */
async function takeLock(name: string): Promise<() => void> {
  const locks = (globalThis as unknown as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (locks === undefined) return () => {};
  return new Promise((resolve, reject) => {
    locks
      .request(`weir-outbox:${name}`, { ifAvailable: true }, (lock) => {
        if (lock === null) {
          reject(new WeirOutboxError(`outbox ${name} in use by another tab or worker`));
          return undefined;
        }
        return new Promise<void>((release) => resolve(release));
      })
      .catch(reject);
  });
}

function messageOf(err: unknown): string {
  if (err === null || err === undefined) return "";
  if (typeof err === "object" && "message" in err) return String(err.message);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever else IndexedDB failed with: its own text ("[object Event]" at worst) beats none
  return String(err);
}
