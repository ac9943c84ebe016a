/**
 * Shim of `k6/experimental/websockets` (and `k6/websockets`, the same API) over the `ws` package.
 *
 * Covered: new WebSocket(url, protocols?, params? {headers}), url, readyState, bufferedAmount,
 * protocol, binaryType ("arraybuffer" or "blob"), send(string | ArrayBuffer | Blob is refused),
 * close(code?, reason?), ping(), onopen/onmessage/onerror/onclose/onping/onpong, and
 * addEventListener/removeEventListener. As in k6, an open socket keeps its iteration alive and
 * its handlers run as code of that iteration. Emits the built-in metrics ws_sessions,
 * ws_connecting, ws_session_duration, ws_msgs_sent, ws_msgs_received, data_sent and
 * data_received (WebSocket payload bytes only; k6 counts bytes on the wire).
 */
import NodeWebSocket from "ws";
import { builtin, requireIteration, type Handle, type Iteration } from "./runtime.js";

type Listener = (event: Record<string, unknown>) => unknown;
type EventName = "open" | "message" | "error" | "close" | "ping" | "pong";
const EVENTS: readonly EventName[] = ["open", "message", "error", "close", "ping", "pong"];

export type Params = { headers?: Record<string, string>; tags?: Record<string, string>; compression?: string };

export class WebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  readonly url: string;
  binaryType: "" | "arraybuffer" | "blob" = "";
  onopen: Listener | null = null;
  onmessage: Listener | null = null;
  onerror: Listener | null = null;
  onclose: Listener | null = null;
  onping: Listener | null = null;
  onpong: Listener | null = null;

  readonly #ws: NodeWebSocket;
  readonly #it: Iteration;
  readonly #handle: Handle;
  readonly #listeners = new Map<EventName, Listener[]>();
  readonly #startedAt = performance.now();
  #openedAt = 0;

  constructor(url: string, protocols?: string | string[] | null, params?: Params | null) {
    this.#it = requireIteration("new WebSocket()");
    this.url = url;
    if (params?.compression) throw new Error("WebSocket params.compression is not supported by the Node k6 shim");
    this.#ws = new NodeWebSocket(url, protocols ?? undefined, { headers: params?.headers ?? {}, perMessageDeflate: false });
    this.#ws.binaryType = "nodebuffer";
    const ws = this.#ws;
    this.#handle = { abort: () => ws.terminate() };
    this.#it.hold(this.#handle);
    builtin("ws_sessions", "counter", "default").add(1);

    ws.on("open", () => {
      this.#openedAt = performance.now();
      builtin("ws_connecting", "trend", "time").add(this.#openedAt - this.#startedAt);
      this.#dispatch("open", { type: "open" });
    });
    ws.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      builtin("ws_msgs_received", "counter", "default").add(1);
      builtin("data_received", "counter", "data").add(buf.length);
      let payload: unknown;
      if (!isBinary) payload = buf.toString("utf8");
      else if (this.binaryType === "arraybuffer") payload = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      else if (this.binaryType === "blob") payload = new Blob([buf]);
      else {
        this.#it.fail(new Error('received a binary message but binaryType is not set ("arraybuffer" or "blob")'));
        return;
      }
      this.#dispatch("message", { type: "message", data: payload, origin: this.url, timestamp: Date.now() });
    });
    ws.on("ping", () => this.#dispatch("ping", { type: "ping", timestamp: Date.now() }));
    ws.on("pong", () => this.#dispatch("pong", { type: "pong", timestamp: Date.now() }));
    ws.on("error", (err: Error) => this.#dispatch("error", { type: "error", error: err.message, timestamp: Date.now() }));
    ws.on("close", (code: number, reason: Buffer) => {
      if (this.#openedAt) builtin("ws_session_duration", "trend", "time").add(performance.now() - this.#startedAt);
      this.#dispatch("close", { type: "close", code, reason: reason.toString("utf8"), timestamp: Date.now() });
      this.#it.release(this.#handle);
    });
  }

  get readyState(): number {
    return this.#ws.readyState;
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  get protocol(): string {
    return this.#ws.protocol;
  }

  /** Sends a text (string) or binary (ArrayBuffer) message, as k6 accepts. */
  send(data: string | ArrayBuffer): void {
    if (this.#ws.readyState === WebSocket.CONNECTING) throw new Error("InvalidStateError: WebSocket is still connecting");
    let payload: string | Buffer;
    let size: number;
    if (typeof data === "string") {
      payload = data;
      size = Buffer.byteLength(data);
    } else if (data instanceof ArrayBuffer) {
      payload = Buffer.from(data);
      size = data.byteLength;
    } else {
      // k6 takes string, ArrayBuffer or Blob; refuse typed arrays here so a script that works on
      // the shim also works on k6. (Blob is not implemented by the shim.)
      throw new TypeError("WebSocket.send takes a string or an ArrayBuffer (pass typedArray.buffer, sliced to its bytes)");
    }
    if (this.#ws.readyState !== WebSocket.OPEN) return; // closing or closed: dropped, as in browsers
    builtin("ws_msgs_sent", "counter", "default").add(1);
    builtin("data_sent", "counter", "data").add(size);
    this.#ws.send(payload);
  }

  close(code?: number, reason?: string): void {
    this.#ws.close(code ?? 1000, reason);
  }

  ping(): void {
    this.#ws.ping();
  }

  addEventListener(event: EventName, listener: Listener): void {
    if (!EVENTS.includes(event)) throw new Error(`WebSocket.addEventListener: unknown event "${String(event)}"`);
    const list = this.#listeners.get(event) ?? [];
    list.push(listener);
    this.#listeners.set(event, list);
  }

  removeEventListener(event: EventName, listener: Listener): void {
    const list = this.#listeners.get(event);
    const i = list ? list.indexOf(listener) : -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  #dispatch(event: EventName, payload: Record<string, unknown>): void {
    const prop = { open: this.onopen, message: this.onmessage, error: this.onerror, close: this.onclose, ping: this.onping, pong: this.onpong }[event];
    const listeners = [...(this.#listeners.get(event) ?? [])];
    if (prop) listeners.push(prop);
    for (const l of listeners) this.#it.run(() => l.call(this, payload));
  }
}

export default { WebSocket };
