/**
 * What a protocol session needs from its surroundings, as ports: a Transport that carries its
 * bytes (a uWS socket in the gateway, a WHATWG WebSocket in the relay, a fake in tests), an
 * Authenticator that decides who a Hello is, and — for ingest — a Publisher that answers events.
 * The sessions know nothing of sockets, servers, Kafka or the relay's outbox.
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import type { EventResult, Hello } from "../gen/weir/v1/protocol_pb.js";
import type { WeirError } from "../errors.js";
import type { Grants } from "./grants.js";

export interface Transport {
  /** The client's address, for the audit trail ("" or absent when unknown). */
  readonly peer?: string;
  send(bytes: Uint8Array): void;
  /** Close after flushing what was sent. */
  close(code: number, reason: string): void;
  /** Bytes sent but not yet written to the network. */
  bufferedAmount(): number;
}

/** Who a connection is: its tenant, what it may do, and until when (a token's expiry). */
export type Principal = {
  readonly tenant: string;
  /** Absent: everything (ALL_GRANTS). */
  readonly grants?: Grants;
  /** Unix ms after which the connection must have refreshed its token; absent: never. */
  readonly expiresAtMs?: number;
};

/** The principal a Hello authenticates as, or why it is refused. */
export type AuthOutcome = Principal | WeirError;

/**
 * Decides who a Hello is. A Refresh is authenticated the same way, as a Hello carrying the new
 * token and the connection's tenant.
 */
export interface Authenticator {
  authenticate(hello: Hello): AuthOutcome | Promise<AuthOutcome>;
}

/**
 * Answers a batch of one tenant's events, one result per event in order. Never rejects for a
 * reason that is the client's: every refusal is a per-event result (a nack with a code).
 * The gateway's IngestService (publish to Kafka) and the relay's store-and-forward implement it.
 */
export interface Publisher {
  /** `grants`: the event types the connection may publish (absent: any); others are refused per event. */
  publish(tenant: string, events: readonly Envelope[], grants?: Grants): Promise<EventResult[]>;
}

/**
 * One connection's place in the server's connection caps (src/security/connection-caps.ts): told
 * when the connection authenticates, which may refuse it (its tenant is at its cap), and released
 * when it ends.
 */
export interface ConnectionSlot {
  /** Undefined to go on, or the error that refuses the connection. */
  authenticated(tenant: string): WeirError | undefined;
  /** The connection ended; idempotent. */
  release(): void;
}

/** A refusal a client caused, for the security audit trail (src/security/audit.ts). */
export type RefusalReport = { readonly code: string; readonly closeCode?: number; readonly tenant: string; readonly peer: string };

/** Where a session reports what it refused (pino's `debug(fields, msg)` fits). */
export type SessionLog = { debug(fields: Record<string, unknown>, msg: string): void };
