/**
 * Every error Weir raises, in one place: a code, a message template, and how it reaches a client:
 * as a per-event result code (a nack) or as a WebSocket close code. Tests assert on `.code`;
 * test/docs.test.ts checks that each code is documented in the README.
 */
import { ResultCode } from "./gen/weir/v1/protocol_pb.js";

export type ErrorSpec = {
  readonly message: string;
  /** Per-event outcome, for errors about one event. */
  readonly result?: ResultCode;
  /** WebSocket close code, for errors that end the connection. */
  readonly close?: number;
  /** Whether the client should retry the same event (same id) later. */
  readonly retryable?: boolean;
};

export const errorSpecs = {
  // Per-event, final: the event went to the dead-letter topic.
  WEIR_ERR_INVALID_ENVELOPE: { message: "invalid envelope: %s", result: ResultCode.INVALID },
  WEIR_ERR_INVALID_PAYLOAD: { message: "invalid %s payload: %s", result: ResultCode.INVALID },
  WEIR_ERR_UNKNOWN_TYPE: { message: "unknown event type %s", result: ResultCode.UNKNOWN_TYPE },
  WEIR_ERR_EVENT_TOO_LARGE: { message: "event of %s bytes (payload, attributes and ids) exceeds max_event_bytes %s", result: ResultCode.TOO_LARGE },
  WEIR_ERR_TENANT_MISMATCH: { message: "event names tenant %s, connection is %s", result: ResultCode.UNAUTHORIZED },
  WEIR_ERR_FORBIDDEN_TYPE: { message: "tenant %s may not publish %s", result: ResultCode.UNAUTHORIZED },
  // Per-event, retryable: nothing was published; retry with the same id after retry_after_ms.
  WEIR_ERR_OVERLOADED: { message: "gateway at its in-flight limit", result: ResultCode.RETRY_AFTER, retryable: true },
  WEIR_ERR_DEDUP_UNAVAILABLE: { message: "dedup store unavailable: %s", result: ResultCode.RETRY_AFTER, retryable: true },
  WEIR_ERR_KAFKA_UNAVAILABLE: { message: "Kafka unavailable: %s", result: ResultCode.RETRY_AFTER, retryable: true },
  WEIR_ERR_IN_PROGRESS: { message: "another attempt with this id is in flight", result: ResultCode.RETRY_AFTER, retryable: true },
  WEIR_ERR_UPSTREAM_UNAVAILABLE: { message: "the relay cannot store the event for its upstream: %s", result: ResultCode.RETRY_AFTER, retryable: true },
  WEIR_ERR_DRAINING: { message: "gateway is shutting down", result: ResultCode.RETRY_AFTER, retryable: true },
  WEIR_ERR_QUOTA_EXCEEDED: { message: "tenant %s is over its quota (%s)", result: ResultCode.RETRY_AFTER, retryable: true },
  // Connection errors: a ProtocolError frame, then this close code.
  WEIR_ERR_BAD_FRAME: { message: "malformed frame: %s", close: 4400 },
  WEIR_ERR_UNAUTHORIZED: { message: "unknown tenant or bad API key", close: 4401 },
  WEIR_ERR_BAD_TOKEN: { message: "token refused: %s", close: 4401 },
  WEIR_ERR_TOKEN_EXPIRED: { message: "the connection's token expired without a Refresh", close: 4419 },
  WEIR_ERR_FORBIDDEN_STREAM: { message: "tenant %s may not subscribe to %s", close: 4402 },
  // Before the upgrade: HTTP 429 with Retry-After, no WebSocket.
  WEIR_ERR_AUTH_THROTTLED: { message: "too many refused handshakes from %s; try again in %s s" },
  // Before the upgrade (HTTP 429 or 503), or after the Hello for a tenant at its cap (close 1013: try again later).
  WEIR_ERR_FORBIDDEN_ORIGIN: { message: "origin %s may not connect" },
  WEIR_ERR_TOO_MANY_CONNECTIONS: { message: "too many connections: %s", close: 1013 },
  WEIR_ERR_HELLO_REQUIRED: { message: "the first frame must be Hello", close: 4403 },
  WEIR_ERR_HELLO_TIMEOUT: { message: "no Hello within %s ms", close: 4408 },
  WEIR_ERR_BATCH_TOO_LARGE: { message: "batch of %s events exceeds max_batch_events %s", close: 4413 },
  WEIR_ERR_UNSUPPORTED_VERSION: { message: "protocol version %s not supported (server speaks %s)", close: 4426 },
  WEIR_ERR_CREDIT_EXCEEDED: { message: "batch of %s events exceeds the %s credits granted", close: 4429 },
  WEIR_ERR_SLOW_READER: { message: "client does not read its results (%s bytes unsent)", close: 4409 },
  WEIR_ERR_FRAME_TOO_LARGE: { message: "frame of %s bytes exceeds max_frame_bytes %s", close: 1009 },
  WEIR_ERR_SHUTDOWN: { message: "gateway shut down", close: 1001 },
  WEIR_ERR_UNKNOWN_STREAM: { message: "unknown stream %s (offered: %s)", close: 4404 },
  WEIR_ERR_BAD_RESUME_TOKEN: { message: "bad resume token: %s", close: 4422 },
  WEIR_ERR_BAD_SUBSCRIBE: { message: "bad subscribe request: %s", close: 4422 },
  WEIR_ERR_RESUME_EXPIRED: {
    message: "resume position is no longer in Kafka (partition %s: offset %s, oldest kept %s); subscribe from a timestamp or the earliest instead",
    close: 4410,
  },
  WEIR_ERR_SLOW_SUBSCRIBER: { message: "subscriber does not keep up: %s deliveries pending", close: 4409 },
  WEIR_ERR_SUBSCRIPTION_FAILED: { message: "reading the stream failed: %s", close: 1011 },
  WEIR_ERR_INTERNAL: { message: "internal error: %s", close: 1011 },
  // Boot and operations.
  WEIR_ERR_CONFIG: { message: "invalid configuration: %s" },
  WEIR_ERR_SCHEMA_IMAGE: { message: "cannot load schema image %s: %s" },
  WEIR_ERR_SCHEMA_INCOMPATIBLE: { message: "schema image %s breaks compatibility with the running one:\n%s" },
  WEIR_ERR_JOB: { message: "job %s: %s" },
  WEIR_ERR_JOB_STATE_VERSION: { message: "job %s cannot use its stored state: %s" },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorSpecs;

export class WeirError extends Error {
  override readonly name = "WeirError";
  readonly spec: ErrorSpec;
  constructor(
    readonly code: ErrorCode,
    ...args: Array<string | number>
  ) {
    const spec: ErrorSpec = errorSpecs[code];
    // What a client sent is echoed clipped: a 4 MB id must not become a 4 MB reason, dead letter or log line.
    super(format(spec.message, spec.result !== undefined || spec.close !== undefined ? args.map(clip) : args));
    this.spec = spec;
  }
}

function format(template: string, args: Array<string | number>): string {
  let i = 0;
  return template.replace(/%s/g, () => String(args[i++] ?? ""));
}

/** Longest argument echoed in a client-facing error message. */
export const MAX_ECHO_CHARS = 200;

function clip(arg: string | number): string | number {
  if (typeof arg !== "string" || arg.length <= MAX_ECHO_CHARS) return arg;
  return `${arg.slice(0, MAX_ECHO_CHARS)}… (${arg.length - MAX_ECHO_CHARS} more characters)`;
}

export function isWeirError(err: unknown, code?: ErrorCode): err is WeirError {
  return err instanceof WeirError && (code === undefined || err.code === code);
}
