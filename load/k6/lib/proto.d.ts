/** Types of proto.js (the hand-rolled codec bundled with the k6 scripts), for the TypeScript tests. */

export declare const ResultCode: {
  readonly UNSPECIFIED: 0;
  readonly ACK: 1;
  readonly DUPLICATE: 2;
  readonly INVALID: 3;
  readonly RETRY_AFTER: 4;
  readonly UNAUTHORIZED: 5;
  readonly TOO_LARGE: 6;
  readonly UNKNOWN_TYPE: 7;
};
export declare function resultCodeName(code: number): string;
export declare const HTTP_ACCESS_LOG_TYPE: "weir.events.v1.HttpAccessLog";

export declare function utf8Length(s: string): number;
export declare function encodeUtf8(s: string): Uint8Array;
export declare function decodeUtf8(bytes: Uint8Array, start?: number, end?: number): string;

export declare class Writer {
  constructor(capacity?: number);
  buf: Uint8Array;
  pos: number;
  varint(v: number): this;
  varint64(lo: number, hi: number): this;
  signedVarint(v: number): this;
  tag(field: number, wireType: number): this;
  rawBytes(bytes: Uint8Array): this;
  uint(field: number, v: number | undefined): this;
  int(field: number, v: number | undefined): this;
  string(field: number, s: string | undefined): this;
  stringAlways(field: number, s: string): this;
  bytes(field: number, b: Uint8Array | undefined): this;
  message(field: number, encoded: Uint8Array): this;
  finish(): Uint8Array;
}

export declare class Reader {
  constructor(bytes: Uint8Array, start?: number, end?: number);
  varint(): number;
  low32(): number;
  uint32(): number;
  int64(): number;
  int32(): number;
  bytes(): Uint8Array;
  string(): string;
}

export declare function toArrayBuffer(u8: Uint8Array): ArrayBuffer;

export type Timestamp = { seconds: number; nanos: number };
export type HttpAccessLog = {
  host?: string;
  method?: string;
  path?: string;
  status?: number;
  bytesSent?: number;
  latencyMs?: number;
  clientIp?: string;
  userAgent?: string;
};
export type Envelope = {
  id?: string;
  tenant?: string;
  type?: string;
  eventTime?: Timestamp;
  partitionKey?: string;
  traceparent?: string;
  payload?: Uint8Array;
  attributes?: Record<string, string>;
};
export type Hello = { protocolVersion?: number; tenant?: string; apiKey?: string; clientId?: string };
export type SubscribeStart =
  | { case: "resumeToken"; value: string }
  | { case: "fromTimestampMs"; value: number }
  | { case: "fromEarliest"; value: boolean }
  | { case: undefined; value?: undefined };
export type Subscribe = { stream?: string; key?: string; keyPrefix?: string; start?: SubscribeStart };
export type ClientFrame =
  | { case: "hello"; value: Hello }
  | { case: "publish"; value: { seq?: number; events?: Array<Envelope | Uint8Array> } }
  | { case: "ping"; value: { nonce?: number } }
  | { case: "subscribe"; value: Subscribe };

export declare function timestampFromMs(ms: number): Timestamp;
export declare function encodeTimestamp(ts: Timestamp): Uint8Array;
export declare function encodeHttpAccessLog(log: HttpAccessLog): Uint8Array;
export declare function encodeEnvelope(env: Envelope): Uint8Array;
export declare function encodeHello(hello: Hello): Uint8Array;
export declare function encodePublishBatch(seq: number, encodedEvents: readonly Uint8Array[]): Uint8Array;
export declare function encodePublishFrame(seq: number, encodedEvents: readonly Uint8Array[]): Uint8Array;
export declare function encodeSubscribe(sub: Subscribe): Uint8Array;
export declare function encodeClientFrame(frame: ClientFrame): Uint8Array;

export type Welcome = {
  sessionId: string;
  credit: number;
  maxBatchEvents: number;
  maxEventBytes: number;
  maxFrameBytes: number;
  gatewayId: string;
  /** Unix ms when the connection's token expires (0: never). */
  expiresAtMs: number;
};
export type EventResult = { id: string; code: number; errorCode: string; reason: string; retryAfterMs: number };
export type PublishResult = { seq: number; results: EventResult[]; credit: number };
export type ProtocolError = { errorCode: string; message: string; closeCode: number };
export type Subscribed = { stream: string; slowPolicy: string; resumeToken: string };
export type Delivery = { key: string; value: Uint8Array; contentType: string; timestampMs: number; kind: string; resumeToken: string; readAtMs: number };
export type ServerFrame =
  | { case: "welcome"; value: Welcome }
  | { case: "result"; value: PublishResult }
  | { case: "credit"; value: { credit: number } }
  | { case: "pong"; value: { nonce: number } }
  | { case: "error"; value: ProtocolError }
  | { case: "subscribed"; value: Subscribed }
  | { case: "deliveries"; value: { deliveries: Delivery[] } }
  | { case: undefined; value: undefined };

export declare function decodeServerFrame(bytes: Uint8Array): ServerFrame;
export declare function decodeHttpAccessLog(bytes: Uint8Array): Required<HttpAccessLog>;
