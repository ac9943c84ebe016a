/**
 * `weir/client` on Node: the portable client, the file outbox, and the `ws` package as the
 * WebSocket (Node 20 has none of its own).
 */
import WebSocketNode from "ws";
import { useWebSocket, type WebSocketConstructor } from "./transport.js";

useWebSocket(WebSocketNode as unknown as WebSocketConstructor);

export * from "./portable.js";
export { FileOutbox } from "./file-outbox.js";
