/**
 * A low-level client for /v1/ingest: one connection, credit-aware batches, per-batch results,
 * retry of RETRY_AFTER events with the same ids, and raw frames for protocol tests. Applications
 * use WeirClient (failover, outbox, linger batching); load generators and tests use this.
 */
import { type MessageInitShape } from "@bufbuild/protobuf";
import { ResultCode, type ClientFrameSchema, type EventResult, type Welcome } from "../gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { ConnectionClosedError, type CloseInfo } from "./errors.js";
import { retryDelayMs } from "./backoff.js";
import { connectSession, readFrame, refresherFor, sendFrame, type SessionOptions } from "./transport.js";
import type { TokenRefresher, TokenSource } from "./token.js";

export { ConnectionClosedError, type CloseInfo };

export type ClientOptions = SessionOptions;

type Pending = { resolve(results: EventResult[]): void; reject(err: Error): void };
type CreditWaiter = { n: number; resolve(): void; reject(err: Error): void };

export const isFinal = (r: EventResult) => r.code !== ResultCode.RETRY_AFTER;

export class IngestClient {
  private seq = 0n;
  private credit: number;
  private readonly pending = new Map<bigint, Pending>();
  private readonly creditWaiters: CreditWaiter[] = [];
  private closeInfo: CloseInfo | undefined;
  readonly closed: Promise<CloseInfo>;

  private readonly refresher: TokenRefresher;

  private constructor(
    private readonly ws: WebSocket,
    readonly welcome: Welcome,
    token: TokenSource | undefined,
  ) {
    this.credit = welcome.credit;
    this.refresher = refresherFor(ws, token);
    this.refresher.schedule(welcome.expiresAtMs);
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (ev) => {
        this.refresher.stop();
        this.closeInfo = { code: ev.code, reason: ev.reason, ...(this.closeInfo?.error ? { error: this.closeInfo.error } : {}) };
        const err = new ConnectionClosedError(this.closeInfo);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        for (const w of this.creditWaiters.splice(0)) w.reject(err);
        resolve(this.closeInfo);
      });
    });
    ws.addEventListener("message", (ev) => this.onFrame(readFrame(ev)));
  }

  static async connect(opts: ClientOptions): Promise<IngestClient> {
    const { ws, welcome } = await connectSession(opts);
    return new IngestClient(ws, welcome, opts.token);
  }

  /** Credit the gateway has granted and this client has not spent. */
  get availableCredit(): number {
    return this.credit;
  }

  /**
   * Sends events (split into batches the gateway accepts, waiting for credit) and resolves with
   * one result per event, in order. Rejects with ConnectionClosedError if the connection ends.
   */
  async publish(events: readonly Envelope[]): Promise<EventResult[]> {
    const size = Math.max(1, Math.min(this.welcome.maxBatchEvents, this.welcome.credit));
    const chunks: Array<Promise<EventResult[]>> = [];
    for (let i = 0; i < events.length; i += size) chunks.push(this.publishBatch(events.slice(i, i + size)));
    return (await Promise.all(chunks)).flat();
  }

  /**
   * Like publish, but re-sends RETRY_AFTER events (same ids) after the delay the gateway asked
   * for (longer with each round: retryDelayMs), until every event has a final result or
   * `deadlineMs` passes.
   */
  async publishUntilFinal(events: readonly Envelope[], opts: { deadlineMs?: number } = {}): Promise<EventResult[]> {
    const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
    const results = await this.publish(events);
    for (let round = 1; ; round++) {
      const retry = results.flatMap((r, i) => (isFinal(r) ? [] : [i]));
      if (retry.length === 0 || Date.now() > deadline) return results;
      const delay = Math.max(...retry.map((i) => retryDelayMs(results[i]!.retryAfterMs, round)), 10);
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
      const again = await this.publish(retry.map((i) => events[i]!));
      retry.forEach((i, j) => (results[i] = again[j]!));
    }
  }

  private async publishBatch(events: Envelope[]): Promise<EventResult[]> {
    await this.acquire(events.length);
    const seq = ++this.seq;
    const done = new Promise<EventResult[]>((resolve, reject) => this.pending.set(seq, { resolve, reject }));
    this.send({ frame: { case: "publish", value: { seq, events } } });
    return done;
  }

  private acquire(n: number): Promise<void> {
    if (this.closeInfo) return Promise.reject(new ConnectionClosedError(this.closeInfo));
    if (this.creditWaiters.length === 0 && this.credit >= n) {
      this.credit -= n;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.creditWaiters.push({ n, resolve, reject }));
  }

  private grant(n: number): void {
    this.credit += n;
    while (this.creditWaiters.length > 0 && this.credit >= this.creditWaiters[0]!.n) {
      const w = this.creditWaiters.shift()!;
      this.credit -= w.n;
      w.resolve();
    }
  }

  private onFrame(frame: ReturnType<typeof readFrame>): void {
    switch (frame.case) {
      case "result": {
        const p = this.pending.get(frame.value.seq);
        this.pending.delete(frame.value.seq);
        this.grant(frame.value.credit);
        p?.resolve(frame.value.results);
        break;
      }
      case "credit":
        this.grant(frame.value.credit);
        break;
      case "refreshed":
        this.refresher.schedule(frame.value.expiresAtMs);
        break;
      case "error":
        this.closeInfo = { code: frame.value.closeCode, reason: frame.value.errorCode, error: frame.value };
        break;
    }
  }

  /** Sends a raw frame; for tests of the gateway's handling of misbehaving clients. */
  send(frame: MessageInitShape<typeof ClientFrameSchema>): void {
    sendFrame(this.ws, frame);
  }

  /** Sends raw bytes; for tests. */
  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  close(): Promise<CloseInfo> {
    this.ws.close(1000);
    return this.closed;
  }
}
