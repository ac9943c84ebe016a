/**
 * `subscribe()`: a stream of Weir's results (or raw events) as an async iterator, resuming by
 * itself. Each delivery carries a resume token; when the connection drops the client reconnects
 * (exponential backoff with jitter) and subscribes again from the last token it handed out, so
 * the iterator sees no gap and no repeat. Errors that another attempt cannot fix (unknown
 * stream, bad credentials, an expired position) end the iteration with a ConnectionClosedError.
 *
 * Backpressure: deliveries wait in a buffer until the loop takes them; past `highWaterMark` the
 * client stops reading the socket (Node `ws`), so the gateway sees a slow subscriber and applies
 * the stream's policy. Written against the WHATWG WebSocket API, as IngestClient.
 */
import type { Delivery, ProtocolError, Subscribe } from "../gen/weir/v1/protocol_pb.js";
import { backoffDelay } from "./backoff.js";
import { ConnectionClosedError } from "./errors.js";
import { helloFrame, openSocket, readFrame, refresherFor, sendFrame, type WebSocketConstructor } from "./transport.js";
import { tokenFrom, type TokenSource } from "./token.js";

export type SubscribeStart = "latest" | "earliest" | { readonly resumeToken: string } | { readonly timestampMs: number };

export type SubscribeOptions = {
  /** ws://host:port/v1/subscribe, or several gateways' (tried in turn when one fails). */
  readonly url: string | readonly string[];
  /** With a token, optional (the token names it). */
  readonly tenant?: string;
  /** An API key, or… */
  readonly apiKey?: string;
  /** …a token (JWT), or a function giving a fresh one (at each connect and before each expiry). */
  readonly token?: TokenSource;
  /** "results.error-rate", "results.fraud", "results.risk-limits", "alerts", "events.<type>". */
  readonly stream: string;
  readonly key?: string;
  readonly keyPrefix?: string;
  /** Default "latest". */
  readonly from?: SubscribeStart;
  /** Deliveries buffered before the client stops reading the socket (default 10,000). */
  readonly highWaterMark?: number;
  /** Reconnect backoff cap (default 10 s); attempts are unlimited until close() or a fatal error. */
  readonly maxReconnectDelayMs?: number;
  /** A backoff of your own: ms to wait before reconnect attempt `attempt` (0 after a connection that delivered or stayed up 2 s). */
  readonly reconnectDelayMs?: (attempt: number) => number;
  /** A WebSocket implementation (default: the platform's, or `ws` on Node). */
  readonly WebSocket?: WebSocketConstructor;
  /** Called when the subscription is live (after each (re)connect). */
  readonly onSubscribed?: (info: { stream: string; slowPolicy: string; reconnects: number }) => void;
};

export type StreamDelivery = {
  readonly key: string;
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly timestampMs: number;
  readonly kind: string;
  readonly resumeToken: string;
  /** When the gateway read it from Kafka (epoch ms). */
  readonly readAtMs: number;
  /** The value parsed as JSON (results and alerts). */
  json<T = unknown>(): T;
};

/** Close codes after which reconnecting cannot help. */
const FATAL = new Set([4400, 4401, 4402, 4403, 4404, 4410, 4422, 4426]);

export type WeirSubscription = AsyncIterable<StreamDelivery> & {
  /** The token of the last delivery the iterator handed out (resume from it later). */
  readonly resumeToken: string | undefined;
  /** Times the client has reconnected. */
  readonly reconnects: number;
  close(): void;
};

const decoder = new TextDecoder();

function toDelivery(d: Delivery): StreamDelivery {
  return {
    key: d.key,
    value: d.value,
    contentType: d.contentType,
    timestampMs: Number(d.timestampMs),
    kind: d.kind,
    resumeToken: d.resumeToken,
    readAtMs: Number(d.readAtMs),
    json: <T>() => JSON.parse(decoder.decode(d.value)) as T,
  };
}

function startOf(from: SubscribeStart | undefined): Subscribe["start"] {
  if (from === undefined || from === "latest") return { case: undefined };
  if (from === "earliest") return { case: "fromEarliest", value: true };
  if ("resumeToken" in from) return { case: "resumeToken", value: from.resumeToken };
  return { case: "fromTimestampMs", value: BigInt(from.timestampMs) };
}

export function subscribe(opts: SubscribeOptions): WeirSubscription {
  const buffer: StreamDelivery[] = [];
  const highWaterMark = opts.highWaterMark ?? 10_000;
  let waiting: ((r: IteratorResult<StreamDelivery>) => void) | undefined;
  let failed: Error | undefined;
  let ended = false;
  let lastToken: string | undefined;
  let received: string | undefined; // token of the last delivery received (buffered or handed out)
  let reconnects = 0;
  let ws: WebSocket | undefined;
  let paused = false;

  const wake = () => {
    if (!waiting) return;
    const resolve = waiting;
    if (buffer.length > 0) {
      waiting = undefined;
      const d = buffer.shift()!;
      lastToken = d.resumeToken;
      resolve({ value: d, done: false });
    } else if (ended || failed) {
      waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  };
  const socketFlow = (pause: boolean) => {
    const node = ws as unknown as { pause?: () => void; resume?: () => void } | undefined;
    if (pause === paused || !node?.pause) return;
    paused = pause;
    if (pause) node.pause();
    else node.resume!();
  };

  const urls = typeof opts.url === "string" ? [opts.url] : opts.url;
  if (urls.length === 0) throw new Error("subscribe needs at least one gateway URL");
  let nextUrl = 0;
  const connect = (attempt: number) => {
    if (ended) return;
    let socket: WebSocket;
    try {
      socket = openSocket(urls[nextUrl % urls.length]!, opts.WebSocket);
    } catch (err) {
      // A malformed URL: no attempt can succeed.
      failed = err instanceof Error ? err : new Error(String(err));
      return wake();
    }
    ws = socket;
    paused = false;
    let protocolError: ProtocolError | undefined;
    let live = false;
    let liveAt = 0;
    let delivered = false;
    const refresher = refresherFor(socket, opts.token);
    socket.addEventListener("open", () => {
      void tokenFrom(opts.token).then(
        (token) => {
          if (socket.readyState !== 1) return;
          sendFrame(socket, { frame: helloFrame({ ...opts, token, clientId: "weir-subscribe" }) });
          const start = received !== undefined ? ({ case: "resumeToken", value: received } as const) : startOf(opts.from);
          sendFrame(socket, { frame: { case: "subscribe", value: { stream: opts.stream, key: opts.key ?? "", keyPrefix: opts.keyPrefix ?? "", start } } });
        },
        // No token to be had: this attempt ends, the next one asks again.
        () => socket.close(4000, "no token"),
      );
    });
    socket.addEventListener("message", (ev) => {
      const frame = readFrame(ev);
      if (frame.case === "welcome") refresher.schedule(frame.value.expiresAtMs);
      else if (frame.case === "refreshed") refresher.schedule(frame.value.expiresAtMs);
      else if (frame.case === "subscribed") {
        live = true;
        liveAt = Date.now();
        // Before the first delivery, a reconnect resumes from where this subscription started.
        if (received === undefined && frame.value.resumeToken) received = frame.value.resumeToken;
        opts.onSubscribed?.({ stream: frame.value.stream, slowPolicy: frame.value.slowPolicy, reconnects });
      } else if (frame.case === "deliveries") {
        delivered = true;
        for (const d of frame.value.deliveries) buffer.push(toDelivery(d));
        const last = frame.value.deliveries.at(-1);
        if (last) received = last.resumeToken;
        if (buffer.length >= highWaterMark) socketFlow(true);
        wake();
      } else if (frame.case === "error") {
        protocolError = frame.value;
      }
    });
    socket.addEventListener("error", () => {
      /* the close event follows */
    });
    socket.addEventListener("close", (ev) => {
      refresher.stop();
      if (ended) return wake();
      if (FATAL.has(ev.code)) {
        failed = new ConnectionClosedError({ code: ev.code, reason: ev.reason, ...(protocolError ? { error: protocolError } : {}) });
        return wake();
      }
      // Back off (full jitter) and resume from the last delivery received, on the next gateway
      // if this one never got live. The backoff starts over only after a connection that
      // delivered or stayed up: one that fails right after Subscribed must not be hammered.
      const next = delivered || (live && Date.now() - liveAt >= 2000) ? 0 : attempt + 1;
      if (!live) nextUrl++;
      reconnects++;
      const delay = opts.reconnectDelayMs ? opts.reconnectDelayMs(next) : backoffDelay(next, { maxMs: opts.maxReconnectDelayMs ?? 10_000 });
      setTimeout(() => connect(next), delay);
    });
  };
  connect(0);

  const iterator: AsyncIterator<StreamDelivery> = {
    next: () => {
      if (buffer.length > 0) {
        const d = buffer.shift()!;
        lastToken = d.resumeToken;
        if (buffer.length < highWaterMark / 2) socketFlow(false);
        return Promise.resolve({ value: d, done: false });
      }
      if (failed) return Promise.reject(failed);
      if (ended) return Promise.resolve({ value: undefined, done: true });
      socketFlow(false);
      return new Promise((resolve, reject) => {
        waiting = (r) => (failed && r.done ? reject(failed) : resolve(r));
      });
    },
    return: () => {
      close();
      return Promise.resolve({ value: undefined, done: true });
    },
  };
  const close = () => {
    ended = true;
    ws?.close(1000, "client closed");
    wake();
  };
  return {
    [Symbol.asyncIterator]: () => iterator,
    get resumeToken() {
      return lastToken;
    },
    get reconnects() {
      return reconnects;
    },
    close,
  };
}
