/**
 * Pieces the EventLog adapters share: the circuit breaker over pending sends, the group commit
 * for clients that must keep one send in flight, and loading an optional client package.
 */
import type { KafkaSecurity } from "./kafka-security.js";
import { WeirError } from "../../errors.js";
import type { OutRecord } from "../../ingest/ports.js";
import type { Logger } from "../../log.js";

/** What every EventLog adapter is configured with. */
export type AdapterOptions = {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly replicationFactor: number;
  /** A send pending longer than this, or one that failed this recently, makes `healthy` false. */
  readonly stallMs: number;
  readonly logger: Logger;
  /** How the client reaches the brokers (TLS, SASL); default plaintext. */
  readonly security?: KafkaSecurity;
};

/**
 * Open (unhealthy) while the oldest pending send is older than `stallMs`, and for `stallMs`
 * after a failed one; then the next publish probes Kafka again. Sends may settle in any order.
 */
export class StallBreaker {
  private readonly pending = new Map<number, number>();
  private nextId = 0;
  private lastFailureAt = -Infinity;

  constructor(
    private readonly stallMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A send starts; returns its handle for settle(). */
  start(): number {
    const id = this.nextId++;
    this.pending.set(id, this.now());
    return id;
  }

  settle(id: number, ok: boolean): void {
    this.pending.delete(id);
    if (!ok) this.lastFailureAt = this.now();
  }

  /** Sends started and not settled. */
  get inFlight(): number {
    return this.pending.size;
  }

  get healthy(): boolean {
    const now = this.now();
    // A Map iterates in insertion order: the first pending entry is the oldest.
    const oldest = this.pending.values().next();
    const stalled = !oldest.done && now - oldest.value > this.stallMs;
    return !stalled && now - this.lastFailureAt > this.stallMs;
  }
}

/** Values per group-commit send; one caller's batch (≤ WEIR_MAX_FRAME_BYTES) may exceed it and goes alone. */
export const maxSendBytes = 4 * 1024 * 1024;
/** Record-batch limit of the topics the gateway creates: room for a max-size frame plus headers. */
export const topicMaxMessageBytes = 16 * 1024 * 1024;

type Waiter = { readonly records: readonly OutRecord[]; resolve(): void; reject(err: Error): void };

/**
 * Group commit: one send in flight; records published meanwhile wait and all go in the next
 * send (at most `maxSendBytes` of values per send, at least one caller's records). Batches grow
 * with load and no timer adds latency when idle. The accumulation is bounded by the gateway's
 * admission limit, not here.
 */
export class GroupCommit {
  private waiting: Waiter[] = [];
  private sending = false;

  constructor(
    private readonly send: (records: readonly OutRecord[]) => Promise<void>,
    private readonly breaker: StallBreaker,
    private readonly maxSendBytes: number,
  ) {}

  publish(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiting.push({ records, resolve, reject });
      if (!this.sending) this.flush();
    });
  }

  /** Fails every caller still waiting for a send (on close). */
  rejectWaiting(err: Error): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.reject(err);
  }

  private flush(): void {
    if (this.waiting.length === 0) return;
    let bytes = 0;
    let take = 0;
    while (take < this.waiting.length && (take === 0 || bytes < this.maxSendBytes)) {
      for (const r of this.waiting[take]!.records) bytes += r.value.byteLength;
      take++;
    }
    const batch = this.waiting.splice(0, take);
    const records = batch.length === 1 ? batch[0]!.records : batch.flatMap((w) => w.records);
    this.sending = true;
    const id = this.breaker.start();
    let sent: Promise<void>;
    try {
      sent = this.send(records);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent
      .then(
        () => {
          this.breaker.settle(id, true);
          for (const w of batch) w.resolve();
        },
        (err: unknown) => {
          this.breaker.settle(id, false);
          const error = err instanceof Error ? err : new Error(String(err));
          for (const w of batch) w.reject(error);
        },
      )
      .finally(() => {
        this.sending = false;
        this.flush();
      });
  }
}

/** A Buffer over the record's bytes, without copying. */
export function bufferOf(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * Imports an optional Kafka client package, or fails with WEIR_ERR_CONFIG saying how to get it.
 * The specifier is a variable so the type checker does not need the package either.
 */
export async function importClientPackage<T>(pkg: string, client: string, howToInstall: string): Promise<T> {
  const specifier: string = pkg;
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new WeirError("WEIR_ERR_CONFIG", `WEIR_KAFKA_CLIENT=${client} needs the package ${pkg}, which is not installed (${howToInstall})`);
    }
    throw new WeirError("WEIR_ERR_CONFIG", `WEIR_KAFKA_CLIENT=${client}: cannot load ${pkg}: ${(err as Error).message}`);
  }
}
