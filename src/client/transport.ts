/**
 * Opening sockets to a gateway, the same way on every runtime: the WHATWG WebSocket API, from the
 * platform (browsers, Deno, Node ≥ 22) or registered by the Node entry (the `ws` package, which
 * Node 20 needs). Nothing here imports a Node module, so it bundles for browsers as is.
 */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type ProtocolError, type ServerFrame, type Welcome } from "../gen/weir/v1/protocol_pb.js";
import { ConnectionClosedError } from "./errors.js";
import { PROTOCOL_VERSION } from "../protocol/version.js";

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

export function readFrame(ev: MessageEvent): ServerFrame["frame"] {
  return fromBinary(ServerFrameSchema, new Uint8Array(ev.data as ArrayBuffer)).frame;
}

export type SessionOptions = {
  readonly url: string;
  readonly tenant: string;
  readonly apiKey: string;
  readonly clientId?: string;
  readonly connectTimeoutMs?: number;
  readonly WebSocket?: WebSocketConstructor;
};

/**
 * Opens a socket and says Hello; resolves with the gateway's Welcome, or rejects with the close
 * (ConnectionClosedError carrying the gateway's ProtocolError, e.g. 4401 for a bad key) or a timeout.
 */
export function connectSession(opts: SessionOptions): Promise<{ ws: WebSocket; welcome: Welcome }> {
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
        frame: { case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: opts.tenant, apiKey: opts.apiKey, clientId: opts.clientId ?? "" } },
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
