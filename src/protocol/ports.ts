/**
 * What a protocol session needs from its surroundings, as ports: a Transport that carries its
 * bytes (a uWS socket in the gateway, a WHATWG WebSocket in the relay, a fake in tests), an
 * Authenticator that decides who a Hello is, and — for ingest — a Publisher that answers events.
 * The sessions know nothing of sockets, servers, Kafka or the relay's outbox.
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import type { EventResult, Hello } from "../gen/weir/v1/protocol_pb.js";
import type { WeirError } from "../errors.js";

export interface Transport {
  send(bytes: Uint8Array): void;
  /** Close after flushing what was sent. */
  close(code: number, reason: string): void;
  /** Bytes sent but not yet written to the network. */
  bufferedAmount(): number;
}

/** The tenant a Hello authenticates as, or why it is refused. */
export type AuthOutcome = { readonly tenant: string } | WeirError;

export interface Authenticator {
  authenticate(hello: Hello): AuthOutcome | Promise<AuthOutcome>;
}

/**
 * Answers a batch of one tenant's events, one result per event in order. Never rejects for a
 * reason that is the client's: every refusal is a per-event result (a nack with a code).
 * The gateway's IngestService (publish to Kafka) and the relay's store-and-forward implement it.
 */
export interface Publisher {
  publish(tenant: string, events: readonly Envelope[]): Promise<EventResult[]>;
}

/** Where a session reports what it refused (pino's `debug(fields, msg)` fits). */
export type SessionLog = { debug(fields: Record<string, unknown>, msg: string): void };
