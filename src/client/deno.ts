/** The client on Deno: the portable client (Deno has WebSocket) and the file outbox (Deno's node:fs). */
export * from "./portable.js";
export { FileOutbox } from "./file-outbox.js";
