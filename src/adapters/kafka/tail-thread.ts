/**
 * Subscriptions' live tails on a thread of their own (decision 0025). The main thread keeps the
 * subscribers (filter, encode, send: uWS sockets live there); the tails' Kafka consumers fetch and
 * decode on the reader thread (workers/tail-worker.ts) and hand batches over packed. Catch-up
 * reads and offsets stay with the inner readers.
 *
 * A tail's position (`next`) is what the main thread has dispatched, so the hub's hand-over from a
 * catch-up read compares against what its subscribers were really given. If the thread dies, a new
 * one reopens every tail from that position: no gap, no repeat.
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "../../log.js";
import type { TailListener, TopicReaders, TopicTail } from "../../subscribe/ports.js";
import { unpackBatch, type TailThreadEvent, type TailThreadRequest } from "../../subscribe/tail-thread-messages.js";
import type { KafkaSecurity } from "./kafka-security.js";

export type TailThreadSetup = { readonly brokers: readonly string[]; readonly clientId: string; readonly security: KafkaSecurity };

/** Wait before reopening a tail the new thread could not open (Kafka unreachable). */
const REOPEN_DELAY_MS = 1000;

const workerFile = fileURLToPath(new URL("../../../workers/tail-worker.mjs", import.meta.url));

/** `inner` with its tails moved to the reader thread (`thread`, for tests). */
export function withTailThread(inner: TopicReaders, setup: TailThreadSetup, logger: Logger): TopicReaders & { readonly thread: TailThread } {
  const thread = new TailThread(setup, logger);
  return {
    thread,
    openTail: (topic) => thread.openTail(topic),
    startCatchUp: (topic, from, handler) => inner.startCatchUp(topic, from, handler),
    offsets: (topic, partitions, atTimestampMs) => inner.offsets(topic, partitions, atTimestampMs),
    close: async () => {
      await thread.close();
      await inner.close?.();
    },
  };
}

class ThreadTail implements TopicTail {
  readonly listeners = new Set<TailListener>();
  next: number[] = [];

  constructor(
    readonly id: number,
    readonly topic: string,
    private readonly closeTail: (tail: ThreadTail) => void,
  ) {}

  get partitions(): number {
    return this.next.length;
  }

  add(listener: TailListener): void {
    this.listeners.add(listener);
  }

  close(): Promise<void> {
    this.listeners.clear();
    this.closeTail(this);
    return Promise.resolve();
  }
}

type Opening = { readonly tail: ThreadTail; resolve(tail: TopicTail): void; reject(err: Error): void };

export class TailThread {
  private current: Worker | undefined;
  private nextId = 1;
  private readonly open = new Map<number, ThreadTail>();
  private readonly opening = new Map<number, Opening>();
  private closed = false;

  constructor(
    private readonly setup: TailThreadSetup,
    private readonly logger: Logger,
  ) {}

  /** The thread now running, if any (tests end it as a crash would). */
  get worker(): Worker | undefined {
    return this.current;
  }

  openTail(topic: string): Promise<TopicTail> {
    if (this.closed) return Promise.reject(new Error("subscription readers closed"));
    const tail = new ThreadTail(this.nextId++, topic, (t) => this.closeTail(t));
    return new Promise<TopicTail>((resolve, reject) => {
      this.opening.set(tail.id, { tail, resolve, reject });
      this.send({ kind: "open", id: tail.id, topic });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const o of this.opening.values()) o.reject(new Error("subscription readers closed"));
    this.opening.clear();
    this.open.clear();
    const worker = this.current;
    this.current = undefined;
    await worker?.terminate();
  }

  private closeTail(tail: ThreadTail): void {
    if (!this.open.delete(tail.id)) return;
    this.send({ kind: "close", id: tail.id });
  }

  private send(request: TailThreadRequest): void {
    this.thread().postMessage(request);
  }

  private thread(): Worker {
    if (this.current) return this.current;
    const worker = (this.current = new Worker(workerFile, { workerData: this.setup }));
    worker.on("message", (e: TailThreadEvent) => this.onEvent(worker, e));
    worker.on("error", (err) => this.logger.error({ err }, "subscription reader thread failed"));
    worker.on("exit", (code) => this.onExit(worker, code));
    return worker;
  }

  private onEvent(worker: Worker, e: TailThreadEvent): void {
    if (worker !== this.current) return;
    if (e.kind === "records") {
      const tail = this.open.get(e.id);
      if (!tail) return;
      const records = unpackBatch(e);
      tail.next[e.partition] = Math.max(tail.next[e.partition] ?? 0, e.next);
      for (const l of [...tail.listeners]) void l.onRecords(e.partition, records, e.next, e.readAtMs);
      worker.postMessage({ kind: "taken", id: e.id } satisfies TailThreadRequest);
      return;
    }
    const opening = this.opening.get(e.id);
    if (e.kind === "opened") {
      const tail = opening?.tail ?? this.open.get(e.id);
      if (!tail) return this.send({ kind: "close", id: e.id }); // closed meanwhile
      // A reopened tail (after a thread restart) keeps the position it had dispatched; a new one starts where the thread opened it.
      if (opening) {
        tail.next = [...e.next];
        this.opening.delete(e.id);
        this.open.set(e.id, tail);
        opening.resolve(tail);
      }
      return;
    }
    if (opening) {
      this.opening.delete(e.id);
      opening.reject(new Error(e.message));
    } else if (this.open.has(e.id)) {
      const tail = this.open.get(e.id)!;
      this.logger.error({ topic: tail.topic, reason: e.message }, "reopening a subscription tail failed: trying again");
      setTimeout(() => this.reopen(tail), REOPEN_DELAY_MS).unref();
    }
  }

  /** A thread that ends on its own is replaced; its tails reopen where the subscribers stand. */
  private onExit(worker: Worker, code: number): void {
    if (worker !== this.current || this.closed) return;
    this.current = undefined;
    this.logger.error({ code, tails: this.open.size }, "subscription reader thread exited: starting another");
    for (const o of this.opening.values()) o.reject(new Error(`subscription reader thread exited (${code})`));
    this.opening.clear();
    for (const tail of this.open.values()) this.reopen(tail);
  }

  private reopen(tail: ThreadTail): void {
    if (!this.closed && this.open.get(tail.id) === tail) this.send({ kind: "open", id: tail.id, topic: tail.topic, from: [...tail.next] });
  }
}
