/**
 * WeirClient: the edge client. Events go into an outbox (durable if you give it a file or
 * IndexedDB one) before they are sent; they leave it only with a final answer. Until then they are
 * sent, and after a drop, a gateway failover or a restart re-sent, with the same ids — the
 * gateway's dedup makes that exactly once in Kafka.
 *
 * Flow: send() waits while `maxBufferedEvents` events are unanswered (backpressure reaches the
 * caller), appends to the outbox (one write for all events that arrived meanwhile: group commit),
 * and the event joins the ready queue. Ready events leave in batches as soon as a batch is full,
 * or `lingerMs` after the first of them, within the credit the gateway granted (never more in
 * flight than it allows). RETRY_AFTER answers go back to the queue after the delay the gateway
 * asked for. A lost connection moves what was in flight back to the queue, in order, and the
 * client connects to the next gateway of the list, backing off (exponential, full jitter) once
 * every gateway failed in a row.
 *
 * Written against the WHATWG WebSocket API and the Outbox port only: the same code runs in Node,
 * Deno and browsers (see ./portable.ts).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, type Envelope } from "../gen/weir/v1/envelope_pb.js";
import { EventResultSchema, ResultCode, type EventResult, type Welcome } from "../gen/weir/v1/protocol_pb.js";
import { backoffDelay, retryDelayMs, type Backoff } from "./backoff.js";
import { ClientClosedError, ConnectionClosedError, EventRefusedError, FATAL_INGEST_CLOSE_CODES, type CloseInfo } from "./errors.js";
import { encodePublishFrame, eventFrameBytes } from "./frames.js";
import { MemoryOutbox, type Outbox, type OutboxEntry } from "./outbox.js";
import { connectSession, readFrame, refresherFor, sendFrame, type WebSocketConstructor } from "./transport.js";
import type { TokenSource } from "./token.js";
import { ConnectionStateMachine, type ConnectionStateChange } from "./connection-state.js";

export type WeirClientOptions = {
  /** Gateway ingest URLs (ws://host:port/v1/ingest), tried in turn: the failover list. */
  readonly urls: string | readonly string[];
  /** With a token, optional (the token names it). */
  readonly tenant?: string;
  /** An API key, or… */
  readonly apiKey?: string;
  /**
   * …a token (JWT), or a function giving a fresh one: asked at each connect and some time before
   * the connection's token expires (sent in band as a Refresh; the connection carries on).
   */
  readonly token?: TokenSource;
  readonly clientId?: string;
  /** Where unanswered events live. Default: in memory (lost with the process). */
  readonly outbox?: Outbox;
  /** How long a ready event waits for others to share its batch (default 5 ms; 0: next tick). */
  readonly lingerMs?: number;
  /**
   * Strict order (default false): one batch in flight at a time, and an event answered
   * RETRY_AFTER holds back every later one until it goes again — Kafka then gets this client's
   * events in the order they were sent (per key, per partition), at the cost of throughput (one
   * round trip per batch). Without it, a retried event may land after events sent later.
   */
  readonly ordered?: boolean;
  /** Events per batch, at most (default: the gateway's max_batch_events). */
  readonly maxBatchEvents?: number;
  /** Unanswered events before send() waits (default 10,000). */
  readonly maxBufferedEvents?: number;
  readonly backoff?: Backoff;
  readonly connectTimeoutMs?: number;
  /**
   * With nothing heard from the gateway for this long the client pings it, and after twice this
   * long it gives the connection up and fails over (a half-open TCP connection would otherwise
   * hold every in-flight event until the kernel gives up). Default 15 s; 0 turns it off.
   */
  readonly keepAliveMs?: number;
  /** A WebSocket implementation (default: the platform's, or `ws` on Node). */
  readonly WebSocket?: WebSocketConstructor;
  /** Every final answer, including those of events recovered from the outbox (which have no caller). */
  readonly onResult?: (result: EventResult) => void;
  /** Connection changes, for logs and tests. */
  readonly onConnection?: (event: ConnectionEvent) => void;
  /**
   * The connection's state, as it changes: connecting, connected, disconnected (why, and when the
   * next attempt is), suspended (no gateway reachable for `suspendAfterMs`), closed. See
   * `connectionState` for the current one.
   */
  readonly onStateChange?: (change: ConnectionStateChange) => void;
  /** Unreachable this long (default 120 s), the client reports `suspended` instead of `disconnected`. */
  readonly suspendAfterMs?: number;
  /** Events the gateway answered RETRY_AFTER, per batch and reason: they go again after `retryInMs`. */
  readonly onRetry?: (notice: RetryNotice) => void;
};

/** Events of one batch answered RETRY_AFTER for one reason (e.g. WEIR_ERR_OVERLOADED, WEIR_ERR_KAFKA_UNAVAILABLE). */
export type RetryNotice = { readonly errorCode: string; readonly reason: string; readonly events: number; readonly retryInMs: number };

export type ConnectionEvent =
  | { readonly kind: "connected"; readonly url: string; readonly gatewayId: string }
  | { readonly kind: "disconnected"; readonly url: string; readonly close: CloseInfo }
  | { readonly kind: "connect-failed"; readonly url: string; readonly error: string; readonly retryInMs: number };

/**
 * A sent event: durably queued; `acked` settles with its final answer. `alreadyQueued`: the id
 * was still unanswered, so this send added nothing (the receipt is that event's).
 */
export type Receipt = { readonly id: string; readonly acked: Promise<EventResult>; readonly alreadyQueued: boolean };

export type ClientStats = {
  readonly connectedTo: string | undefined;
  readonly gatewayId: string | undefined;
  readonly connects: number;
  readonly unanswered: number;
  readonly inFlight: number;
  readonly acked: number;
  readonly duplicates: number;
  readonly refused: number;
  readonly retried: number;
  readonly recovered: number;
};

type State = "appending" | "ready" | "in-flight" | "waiting-retry";

type Item = {
  /** Send order. */
  readonly n: number;
  readonly id: string;
  readonly bytes: Uint8Array;
  state: State;
  readonly acked: Promise<EventResult>;
  resolve(r: EventResult): void;
  reject(e: Error): void;
  /** Settles when the outbox holds the event (or could not store it): shared by every event of one write. */
  stored: Promise<void>;
  /** RETRY_AFTER answers in a row: each waits longer (retryDelayMs). */
  retries?: number;
};

type Deferred = { readonly promise: Promise<void>; resolve(): void; reject(err: unknown): void };

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  // Awaited by send(); a write nobody awaits any more must not be an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

const STORED = Promise.resolve();

type Connection = { readonly ws: WebSocket; readonly url: string; readonly welcome: Welcome; credit: number };

/** Final answers: the event leaves the outbox. Anything else (RETRY_AFTER, a code this client does not know) is sent again. */
const FINAL = new Set([ResultCode.ACK, ResultCode.DUPLICATE, ResultCode.INVALID, ResultCode.TOO_LARGE, ResultCode.UNKNOWN_TYPE, ResultCode.UNAUTHORIZED]);

/** A connection that ends sooner than this without a single result counts as a failed attempt (backoff, next gateway). */
const USEFUL_AFTER_MS = 2000;

export class WeirClient {
  private readonly urls: readonly string[];
  private readonly outbox: Outbox;
  /** Every unanswered event, in the order it was sent (Map keeps insertion order). */
  private readonly unanswered = new Map<string, Item>();
  /** Events to send, in order. */
  private ready = new Set<Item>();
  private readonly inFlight = new Map<bigint, Item[]>();
  private readonly appendQueue: Item[] = [];
  /** Settles when the events now in appendQueue are stored: one promise per write, not per event. */
  private nextWrite: Deferred | undefined;
  private appending: Promise<void> | undefined;
  private readonly removeQueue: string[] = [];
  private removing: Promise<void> | undefined;
  private readonly spaceWaiters: Array<() => void> = [];
  private readonly flushWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private conn: Connection | undefined;
  private seq = 0n;
  private tracked = 0;
  /** Events answered RETRY_AFTER whose delay has not passed. */
  private waitingRetry = 0;
  private stopped: Error | undefined;
  /** Why the client stopped, unless you closed it. */
  private failure: Error | undefined;
  private wakeReconnect: (() => void) | undefined;
  private readonly counts = { connects: 0, acked: 0, duplicates: 0, refused: 0, retried: 0, recovered: 0 };
  private readonly states: ConnectionStateMachine;
  /** Resolves when the client stopped: closed by you, or failed for good (then with the reason). */
  readonly done: Promise<Error | undefined>;
  private finish!: (reason: Error | undefined) => void;

  private constructor(private readonly opts: WeirClientOptions) {
    this.urls = typeof opts.urls === "string" ? [opts.urls] : [...opts.urls];
    if (this.urls.length === 0) throw new Error("WeirClient needs at least one gateway URL");
    this.outbox = opts.outbox ?? new MemoryOutbox();
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.states = new ConnectionStateMachine(opts.suspendAfterMs ?? 120_000, (change) => this.callback(() => this.opts.onStateChange?.(change)));
  }

  /** The connection's current state (and why, and when it tries again, when it is not connected). */
  get connectionState(): ConnectionStateChange {
    return this.states.state;
  }

  /**
   * Loads what the outbox still holds (events of an earlier run, re-sent first, with their ids)
   * and starts connecting. Resolves without waiting for a gateway: sending works offline.
   */
  static async open(opts: WeirClientOptions): Promise<WeirClient> {
    const client = new WeirClient(opts);
    for (const entry of await client.outbox.load()) {
      const item = client.track(entry.id, entry.bytes);
      item.stored = STORED;
      item.state = "ready";
      client.ready.add(item);
      client.counts.recovered++;
    }
    void client.connectLoop();
    return client;
  }

  /**
   * Queues an event: waits while `maxBufferedEvents` are unanswered, then until the outbox holds it.
   * Sending an id that is still unanswered returns that event's receipt once it is stored (it is
   * not queued twice).
   */
  async send(envelope: Envelope): Promise<Receipt> {
    const max = this.opts.maxBufferedEvents ?? 10_000;
    while (this.unanswered.size >= max && !this.stopped) await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    if (this.stopped) throw this.stopped;
    const existing = this.unanswered.get(envelope.id);
    if (existing) {
      await existing.stored;
      return { id: existing.id, acked: existing.acked, alreadyQueued: true };
    }
    if (!envelope.id) throw new TypeError("an event needs an id (envelopeOf() makes one)");
    const item = this.track(envelope.id, toBinary(EnvelopeSchema, envelope));
    this.nextWrite ??= deferred();
    item.stored = this.nextWrite.promise;
    this.appendQueue.push(item);
    this.appending ??= this.appendAll();
    await item.stored;
    return { id: item.id, acked: item.acked, alreadyQueued: false };
  }

  /** send(), then its final answer: resolves ACK or DUPLICATE, rejects with EventRefusedError (or ClientClosedError). */
  async publish(envelope: Envelope): Promise<EventResult> {
    return (await this.send(envelope)).acked;
  }

  /**
   * Resolves once every event sent so far (and every recovered one) has its final answer, and the
   * outbox knows. Rejects with the reason if the client fails for good first (bad credentials…).
   */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.unanswered.size > 0 && !this.stopped) await new Promise<void>((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
    while (this.removing) await this.removing;
  }

  get stats(): ClientStats {
    let inFlight = 0;
    for (const items of this.inFlight.values()) inFlight += items.length;
    return {
      connectedTo: this.conn?.url,
      gatewayId: this.conn?.welcome.gatewayId,
      unanswered: this.unanswered.size,
      inFlight,
      ...this.counts,
    };
  }

  /**
   * Stops: closes the connection and the outbox. Unanswered events reject with ClientClosedError;
   * a durable outbox keeps them for the next run. Call flush() first to wait for the answers.
   */
  async close(): Promise<void> {
    if (!this.stopped) this.stop(new ClientClosedError("client closed"));
    await this.appending?.catch(() => {});
    await this.removing?.catch(() => {});
    await this.outbox.close();
  }

  // ---- events ----

  private track(id: string, bytes: Uint8Array): Item {
    let resolve!: (r: EventResult) => void;
    let reject!: (e: Error) => void;
    const acked = new Promise<EventResult>((res, rej) => ((resolve = res), (reject = rej)));
    // A caller may keep only the receipt's id: an unobserved refusal must not crash the process.
    acked.catch(() => {});
    const item: Item = { n: this.tracked++, id, bytes, state: "appending", acked, resolve, reject, stored: STORED };
    this.unanswered.set(id, item);
    return item;
  }

  /** Group commit: every event queued while a write was running goes in the next single write. */
  private async appendAll(): Promise<void> {
    while (this.appendQueue.length > 0) {
      const batch = this.appendQueue.splice(0);
      const write = this.nextWrite!;
      this.nextWrite = undefined;
      try {
        await this.outbox.append(batch.map((item): OutboxEntry => ({ id: item.id, bytes: item.bytes })));
      } catch (err) {
        // Not stored, so not sent: every send() of these ids rejects, and nothing is half-done.
        for (const item of batch) {
          this.unanswered.delete(item.id);
          item.reject(err instanceof Error ? err : new Error(String(err)));
        }
        write.reject(err);
        this.releaseSpace();
        continue;
      }
      for (const item of batch) {
        if (item.state === "appending" && !this.stopped) {
          item.state = "ready";
          this.ready.add(item);
        }
      }
      write.resolve();
      this.scheduleFlush();
    }
    this.appending = undefined;
  }

  private answer(item: Item, result: EventResult): void {
    this.unanswered.delete(item.id);
    this.ready.delete(item);
    if (result.code === ResultCode.ACK) this.counts.acked++;
    else if (result.code === ResultCode.DUPLICATE) this.counts.duplicates++;
    else this.counts.refused++;
    if (result.code === ResultCode.ACK || result.code === ResultCode.DUPLICATE) item.resolve(result);
    else item.reject(new EventRefusedError(result));
    this.callback(() => this.opts.onResult?.(result));
    this.removeQueue.push(item.id);
    this.removing ??= this.removeAll();
    this.releaseSpace();
  }

  private async removeAll(): Promise<void> {
    try {
      while (this.removeQueue.length > 0) {
        // A failed removal only means the event is re-sent after a restart, and deduplicated.
        await this.outbox.remove(this.removeQueue.splice(0)).catch(() => {});
      }
    } finally {
      this.removing = undefined;
    }
  }

  private releaseSpace(): void {
    this.spaceWaiters.shift()?.();
    if (this.unanswered.size === 0) for (const w of this.flushWaiters.splice(0)) w.resolve();
  }

  /** Your callbacks run here: one that throws must not break delivery. */
  private callback(fn: () => void): void {
    try {
      fn();
    } catch {
      /* the caller's bug; the client goes on */
    }
  }

  // ---- sending ----

  private batchLimit(conn: Connection): number {
    return Math.max(1, Math.min(this.opts.maxBatchEvents ?? Infinity, conn.welcome.maxBatchEvents || Infinity));
  }

  private scheduleFlush(): void {
    const conn = this.conn;
    if (!conn || this.ready.size === 0) return;
    if (this.ready.size >= this.batchLimit(conn)) return this.sendBatches();
    if (this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.sendBatches();
    }, this.opts.lingerMs ?? 5);
  }

  /** Sends ready events in batches while there is credit. */
  private sendBatches(): void {
    const conn = this.conn;
    if (!conn) return;
    const limit = this.batchLimit(conn);
    // Room for the frame's own headers under max_frame_bytes.
    const maxBytes = (conn.welcome.maxFrameBytes || Infinity) - 32;
    const ordered = this.opts.ordered === true;
    while (this.ready.size > 0 && conn.credit > 0) {
      // Strict order: nothing goes while a batch is unanswered or an event waits to be retried.
      if (ordered && (this.inFlight.size > 0 || this.waitingRetry > 0)) return;
      const batch: Item[] = [];
      let bytes = 0;
      for (const item of this.ready) {
        const size = eventFrameBytes(item.bytes);
        if (batch.length === 0 && size > maxBytes) {
          // Alone it is over the gateway's frame limit: it can never be sent. Refuse it here
          // (the caller learns it) rather than have the gateway close on it at every attempt.
          this.answer(
            item,
            create(EventResultSchema, {
              id: item.id,
              code: ResultCode.TOO_LARGE,
              errorCode: "WEIR_ERR_EVENT_TOO_LARGE",
              reason: `event of ${item.bytes.byteLength} bytes does not fit max_frame_bytes ${conn.welcome.maxFrameBytes}`,
            }),
          );
          continue;
        }
        if (batch.length >= Math.min(limit, conn.credit) || (batch.length > 0 && bytes + size > maxBytes)) break;
        batch.push(item);
        bytes += size;
      }
      if (batch.length === 0) continue;
      for (const item of batch) {
        this.ready.delete(item);
        item.state = "in-flight";
      }
      conn.credit -= batch.length;
      const seq = ++this.seq;
      this.inFlight.set(seq, batch);
      conn.ws.send(
        encodePublishFrame(
          seq,
          batch.map((i) => i.bytes),
        ),
      );
    }
  }

  private onResults(conn: Connection, seq: bigint, results: readonly EventResult[], credit: number): void {
    conn.credit += credit;
    const batch = this.inFlight.get(seq);
    this.inFlight.delete(seq);
    if (!batch) return;
    const retry: Item[] = [];
    let delayMs = 0;
    const reasons = new Map<string, { reason: string; events: number }>();
    batch.forEach((item, i) => {
      const result = results[i];
      if (!result || result.id !== item.id) {
        // Cannot happen with a conforming gateway; re-sending is always safe.
        retry.push(item);
        delayMs = Math.max(delayMs, 100);
      } else if (!FINAL.has(result.code)) {
        this.counts.retried++;
        const why = reasons.get(result.errorCode) ?? { reason: result.reason, events: 0 };
        why.events++;
        reasons.set(result.errorCode, why);
        retry.push(item);
        item.retries = (item.retries ?? 0) + 1;
        delayMs = Math.max(delayMs, retryDelayMs(result.retryAfterMs, item.retries));
      } else {
        this.answer(item, result);
      }
    });
    if (retry.length > 0) this.retryLater(retry, delayMs);
    for (const [errorCode, why] of reasons)
      this.callback(() => this.opts.onRetry?.({ errorCode, reason: why.reason, events: why.events, retryInMs: Math.max(10, delayMs) }));
    this.sendBatches();
  }

  /** After the delay the gateway asked for, the events go back to the queue in send order (ahead of later ones). */
  private retryLater(items: Item[], delayMs: number): void {
    for (const item of items) item.state = "waiting-retry";
    this.waitingRetry += items.length;
    this.delay(Math.max(10, delayMs) * (0.5 + Math.random()), () => {
      this.waitingRetry -= items.length;
      const back = items.filter((item) => item.state === "waiting-retry");
      for (const item of back) item.state = "ready";
      this.ready = new Set([...back, ...this.ready].sort((a, b) => a.n - b.n));
      this.scheduleFlush();
    });
  }

  // ---- connections ----

  /**
   * Connects, serves the connection until it drops, and goes on: the same gateway again after a
   * connection that worked; otherwise the next gateway at once, and once every gateway failed in
   * a row, a backoff before the next round. Until stopped.
   */
  private async connectLoop(): Promise<void> {
    let next = 0;
    let failedInARow = 0;
    while (!this.stopped) {
      const url = this.urls[next % this.urls.length]!;
      let failed: string | undefined;
      let closed: CloseInfo | undefined;
      this.states.connecting(url);
      try {
        const { ws, welcome } = await connectSession({
          url,
          ...(this.opts.tenant !== undefined ? { tenant: this.opts.tenant } : {}),
          ...(this.opts.apiKey !== undefined ? { apiKey: this.opts.apiKey } : {}),
          ...(this.opts.token !== undefined ? { token: this.opts.token } : {}),
          clientId: this.opts.clientId ?? "",
          connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
          ...(this.opts.WebSocket ? { WebSocket: this.opts.WebSocket } : {}),
        });
        if (this.stopped) {
          ws.close(1000);
          break;
        }
        const { close, useful } = await this.serve({ ws, url, welcome, credit: welcome.credit });
        this.callback(() => this.opts.onConnection?.({ kind: "disconnected", url, close }));
        if (FATAL_INGEST_CLOSE_CODES.has(close.code)) this.stop(new ConnectionClosedError(close));
        closed = close;
        if (useful) {
          failedInARow = 0;
          if (!this.stopped) this.states.disconnected({ url, reason: closeReason(close), closeCode: close.code, retryInMs: 0 });
          continue;
        }
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof ConnectionClosedError && FATAL_INGEST_CLOSE_CODES.has(err.info.code)) {
          this.stop(err);
          break;
        }
        failed = err instanceof Error ? err.message : String(err);
      }
      if (this.stopped) break;
      failedInARow++;
      next++;
      const retryInMs = failedInARow % this.urls.length === 0 ? backoffDelay(failedInARow / this.urls.length - 1, this.opts.backoff) : 0;
      if (failed !== undefined) this.callback(() => this.opts.onConnection?.({ kind: "connect-failed", url, error: failed, retryInMs }));
      this.states.disconnected({
        url,
        reason: failed ?? closeReason(closed!),
        ...(closed ? { closeCode: closed.code } : {}),
        retryInMs,
      });
      if (retryInMs > 0) await new Promise<void>((resolve) => ((this.wakeReconnect = resolve), this.delay(retryInMs, resolve)));
      this.wakeReconnect = undefined;
    }
  }

  /**
   * Runs one connection: re-sends what is unanswered, then sends as events come, pinging when the
   * gateway is quiet. Resolves when it closes, or is given up (no answer to pings), telling
   * whether it was useful (answered something, or lasted).
   */
  private serve(conn: Connection): Promise<{ close: CloseInfo; useful: boolean }> {
    this.counts.connects++;
    this.conn = conn;
    // What was in flight on the previous connection goes again, ahead of newer events.
    this.ready = new Set([...this.unanswered.values()].filter((i) => i.state === "ready" || i.state === "in-flight"));
    for (const item of this.ready) item.state = "ready";
    this.states.connected(conn.url, conn.welcome.gatewayId);
    this.callback(() => this.opts.onConnection?.({ kind: "connected", url: conn.url, gatewayId: conn.welcome.gatewayId }));
    const openedAt = Date.now();
    let answered = false;
    let heardAt = openedAt;
    return new Promise((resolve) => {
      let protocolError: CloseInfo["error"];
      let ended = false;
      const refresher = refresherFor(conn.ws, this.opts.token);
      refresher.schedule(conn.welcome.expiresAtMs);
      const end = (close: CloseInfo) => {
        if (ended) return;
        ended = true;
        clearInterval(keepAlive);
        refresher.stop();
        if (this.conn === conn) {
          this.conn = undefined;
          this.inFlight.clear();
        }
        resolve({ close, useful: answered || Date.now() - openedAt >= USEFUL_AFTER_MS });
      };
      const keepAliveMs = this.opts.keepAliveMs ?? 15_000;
      const keepAlive =
        keepAliveMs > 0
          ? setInterval(() => {
              const quiet = Date.now() - heardAt;
              if (quiet >= 2 * keepAliveMs) {
                // Half-open: give it up now; its close handshake may never complete.
                conn.ws.close(4000, "no answer from the gateway");
                end({ code: 4000, reason: `nothing heard for ${quiet} ms` });
              } else if (quiet >= keepAliveMs) sendFrame(conn.ws, { frame: { case: "ping", value: { nonce: BigInt(Date.now()) } } });
            }, keepAliveMs / 2)
          : undefined;
      conn.ws.addEventListener("message", (ev) => {
        if (ended) return;
        heardAt = Date.now();
        const frame = readFrame(ev);
        if (frame.case === "result") {
          answered = true;
          this.onResults(conn, frame.value.seq, frame.value.results, frame.value.credit);
        } else if (frame.case === "credit") {
          conn.credit += frame.value.credit;
          this.sendBatches();
        } else if (frame.case === "refreshed") refresher.schedule(frame.value.expiresAtMs);
        else if (frame.case === "error") protocolError = frame.value;
      });
      conn.ws.addEventListener("close", (ev) => end({ code: ev.code, reason: ev.reason, ...(protocolError ? { error: protocolError } : {}) }));
      this.sendBatches();
      this.scheduleFlush();
    });
  }

  private delay(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private stop(reason: Error): void {
    this.stopped = reason;
    this.states.closed(reason.message);
    const closedByYou = reason instanceof ClientClosedError && reason.cause === undefined;
    if (!closedByYou) this.failure = reason;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.lingerTimer);
    this.wakeReconnect?.();
    this.conn?.ws.close(1000, "client closed");
    for (const item of this.unanswered.values()) item.reject(reason instanceof ClientClosedError ? reason : new ClientClosedError(reason.message, reason));
    this.unanswered.clear();
    for (const w of this.spaceWaiters.splice(0)) w();
    for (const w of this.flushWaiters.splice(0)) {
      if (closedByYou) w.resolve();
      else w.reject(reason);
    }
    this.finish(closedByYou ? undefined : reason);
  }
}

/** A closed connection's reason, for the state change: the gateway's error, its close reason, or the code. */
function closeReason(close: CloseInfo): string {
  if (close.error) return `${close.error.errorCode}: ${close.error.message}`;
  return close.reason || `closed with code ${close.code}`;
}
