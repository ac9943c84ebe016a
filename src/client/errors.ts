/** The client's typed errors: what ended a connection, and why an event was refused. */
import { ResultCode, type EventResult, type ProtocolError } from "../gen/weir/v1/protocol_pb.js";

export type CloseInfo = { code: number; reason: string; error?: ProtocolError };

/** A connection ended (the close code, and the gateway's ProtocolError when it sent one). */
export class ConnectionClosedError extends Error {
  override readonly name = "ConnectionClosedError";
  constructor(readonly info: CloseInfo) {
    super(`connection closed (${info.code}${info.error ? ` ${info.error.errorCode}: ${info.error.message}` : info.reason ? ` ${info.reason}` : ""})`);
  }
}

/**
 * The gateway refused an event for good (INVALID, TOO_LARGE, UNKNOWN_TYPE, UNAUTHORIZED): it is in
 * the dead-letter topic with this reason, and re-sending it cannot help.
 */
export class EventRefusedError extends Error {
  override readonly name = "EventRefusedError";
  readonly code: ResultCode;
  readonly errorCode: string;
  constructor(readonly result: EventResult) {
    super(`event ${result.id} refused: ${result.errorCode}${result.reason ? ` (${result.reason})` : ""}`);
    this.code = result.code;
    this.errorCode = result.errorCode;
  }
}

/** The client was closed (or failed for good) before the event got its answer; a durable outbox still holds it. */
export class ClientClosedError extends Error {
  override readonly name = "ClientClosedError";
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/**
 * Close codes after which connecting again cannot help: bad credentials or a client that breaks
 * the protocol (a reconnect would only repeat it). Everything else (a gateway going away, a
 * network drop, 1001 shutdown, 4408/4409 timeouts) is retried, on the next gateway of the list.
 */
export const FATAL_INGEST_CLOSE_CODES: ReadonlySet<number> = new Set([4400, 4401, 4403, 4413, 4426, 4429, 1009]);
