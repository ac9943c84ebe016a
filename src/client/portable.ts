/**
 * The client as every runtime gets it (Node, Deno, browsers): nothing here imports a Node module.
 * Durable outboxes are per platform: FileOutbox (./file-outbox.ts, Node and Deno) and
 * IndexedDbOutbox (./indexeddb-outbox.ts, browsers).
 */
export { WeirClient, type WeirClientOptions, type Receipt, type ClientStats, type ConnectionEvent, type RetryNotice } from "./weir-client.js";
export type { ConnectionState, ConnectionStateChange } from "./connection-state.js";
export { subscribe, type SubscribeOptions, type SubscribeStart, type StreamDelivery, type WeirSubscription } from "./subscribe.js";
export { IngestClient, isFinal, type ClientOptions } from "./ingest-client.js";
export { envelopeOf, type EnvelopeOptions } from "./envelope.js";
export { MemoryOutbox, type Outbox, type OutboxEntry } from "./outbox.js";
export { ConnectionClosedError, EventRefusedError, ClientClosedError, type CloseInfo } from "./errors.js";
export { useWebSocket, type WebSocketConstructor } from "./transport.js";
export type { Backoff } from "./backoff.js";
export type { TokenSource } from "./token.js";
export { ResultCode, type EventResult } from "../gen/weir/v1/protocol_pb.js";
