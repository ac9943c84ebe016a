/**
 * The client's outbox: every event it has not yet had a final answer for, so events survive
 * offline periods and process restarts and are re-sent with the same ids (the gateway
 * deduplicates by id, so a re-send after a crash publishes at most once).
 *
 * This file is the port and its in-memory default; it is bundled for browsers, so it imports
 * nothing from Node. Durable implementations: FileOutbox (./file-outbox.ts, Node and Deno) and
 * IndexedDbOutbox (./indexeddb-outbox.ts, browsers).
 */

/** One event waiting for its final answer: the Envelope's id and its protobuf bytes (toBinary(EnvelopeSchema, env)). */
export type OutboxEntry = { readonly id: string; readonly bytes: Uint8Array };

export interface Outbox {
  /** Entries stored and not yet removed, in the order they were appended (call once, at start). */
  load(): Promise<OutboxEntry[]>;
  /** Durable once resolved (per the implementation's sync policy). Ids are unique among live entries (the client guarantees it). */
  append(entries: readonly OutboxEntry[]): Promise<void>;
  /** Forgets entries (their events got a final answer). Unknown ids are ignored. */
  remove(ids: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Why an outbox cannot be opened or used: a lock held by another process, a damaged file, an I/O error, use after close. */
export class WeirOutboxError extends Error {
  override readonly name = "WeirOutboxError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Keeps entries in memory only: they do not survive a restart. The default. */
export class MemoryOutbox implements Outbox {
  private readonly entries = new Map<string, Uint8Array>();
  private closed = false;

  load(): Promise<OutboxEntry[]> {
    if (this.closed) return rejectClosed();
    return Promise.resolve(Array.from(this.entries, ([id, bytes]) => ({ id, bytes })));
  }

  append(entries: readonly OutboxEntry[]): Promise<void> {
    if (this.closed) return rejectClosed();
    for (const e of entries) this.entries.set(e.id, e.bytes);
    return Promise.resolve();
  }

  remove(ids: readonly string[]): Promise<void> {
    if (this.closed) return rejectClosed();
    for (const id of ids) this.entries.delete(id);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Live entries (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }
}

/** Use after close: a rejection like every other failure of the port (callers chain on the promise), never a throw. */
function rejectClosed(): Promise<never> {
  return Promise.reject(new WeirOutboxError("outbox is closed"));
}
