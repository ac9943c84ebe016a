/**
 * Opening sockets to a gateway, the same way on every runtime: the WHATWG WebSocket API, from the
 * platform (browsers, Deno, Node ≥ 22) or registered by the Node entry (the `ws` package, which
 * Node 20 needs). Nothing here imports a Node module, so it bundles for browsers as is.
 */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type ProtocolError, type ServerFrame, type Welcome } from "../gen/weir/v1/protocol_pb.js";
import { ConnectionClosedError } from "./errors.js";
import { PROTOCOL_VERSION } from "../protocol/version.js";
import { TokenRefresher, tokenFrom, type TokenSource } from "./token.js";

export type WebSocketConstructor = new (url: string) => WebSocket;

let registered: WebSocketConstructor | undefined;

/** Makes `ctor` the default WebSocket of every client (the Node entry registers `ws`). */
export function useWebSocket(ctor: WebSocketConstructor): void {
  registered = ctor;
}

export function openSocket(url: string, ctor?: WebSocketConstructor): WebSocket {
  const WebSocketImpl = ctor ?? registered ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!WebSocketImpl) throw new Error("no WebSocket implementation: pass one in the options, or import weir/client on Node");
  const ws = new WebSocketImpl(url);
  ws.binaryType = "arraybuffer";
  // For the socket's whole life: the close event that follows an error is what callers act on,
  // and `ws` on Node throws an 'error' nobody listens to (e.g. closing a socket still connecting).
  ws.addEventListener("error", () => {});
  return ws;
}

export function sendFrame(ws: WebSocket, frame: MessageInitShape<typeof ClientFrameSchema>): void {
  ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame)));
}

/** A Refresher for a connection: sends its Refresh frames while the socket is open. */
export function refresherFor(ws: WebSocket, source: TokenSource | undefined, onError?: (err: unknown) => void): TokenRefresher {
  return new TokenRefresher(
    source,
    (token) => {
      if (ws.readyState === 1) sendFrame(ws, { frame: { case: "refresh", value: { token } } });
    },
    onError,
  );
}

export function readFrame(ev: MessageEvent): ServerFrame["frame"] {
  return fromBinary(ServerFrameSchema, new Uint8Array(ev.data as ArrayBuffer)).frame;
}

/** The Hello of a connection: its credentials (an API key or a token) and its name. */
export function helloFrame(opts: { tenant?: string; apiKey?: string; token?: string; clientId?: string }): MessageInitShape<typeof ClientFrameSchema>["frame"] {
  return {
    case: "hello",
    value: { protocolVersion: PROTOCOL_VERSION, tenant: opts.tenant ?? "", apiKey: opts.apiKey ?? "", token: opts.token ?? "", clientId: opts.clientId ?? "" },
  };
}

export type SessionOptions = {
  readonly url: string;
  /** With a token, optional (the token names it). */
  readonly tenant?: string;
  /** An API key, or… */
  readonly apiKey?: string;
  /** …a token (JWT), or a function giving a fresh one. */
  readonly token?: TokenSource;
  readonly clientId?: string;
  readonly connectTimeoutMs?: number;
  readonly WebSocket?: WebSocketConstructor;
};

/**
 * Opens a socket and says Hello; resolves with the gateway's Welcome, or rejects with the close
 * (ConnectionClosedError carrying the gateway's ProtocolError, e.g. 4401 for a bad key) or a timeout.
 */
export async function connectSession(opts: SessionOptions): Promise<{ ws: WebSocket; welcome: Welcome }> {
  const token = await tokenFrom(opts.token);
  const ws = openSocket(opts.url, opts.WebSocket);
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    let error: ProtocolError | undefined;
    const timer = setTimeout(() => {
      cleanup();
      ws.close();
      reject(new Error(`no Welcome from ${opts.url} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onOpen = () =>
      sendFrame(ws, {
        frame: helloFrame({ ...opts, token }),
      });
    const onMessage = (ev: MessageEvent) => {
      const frame = readFrame(ev);
      if (frame.case === "welcome") {
        cleanup();
        resolve({ ws, welcome: frame.value });
      } else if (frame.case === "error") error = frame.value;
    };
    const onClose = (ev: { code: number; reason: string }) => {
      cleanup();
      reject(new ConnectionClosedError({ code: ev.code, reason: ev.reason, ...(error ? { error } : {}) }));
    };
    const cleanup = () => {
      clearTimeout(timer);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("close", onClose);
    };
    ws.addEventListener("open", onOpen);
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", onClose);
  });
}
