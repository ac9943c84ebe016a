/**
 * The frames of the subscription protocol (proto/weir/v1/protocol.proto) the dashboard speaks,
 * through protobuf-es and the generated schemas: ClientFrame hello/subscribe out, ServerFrame in.
 * app.js imports this file; bundle.ts turns both into the one browser module the gateway serves.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "../../src/gen/weir/v1/protocol_pb.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";

/** An API key or a token (JWT): one of the two is set. */
export type HelloInit = { tenant: string; apiKey: string; token?: string; clientId?: string };

export function encodeHello({ tenant, apiKey, token = "", clientId = "weir-dashboard" }: HelloInit): Uint8Array {
  return toBinary(
    ClientFrameSchema,
    create(ClientFrameSchema, { frame: { case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant, apiKey, token, clientId } } }),
  );
}

/** Where a subscription starts: a resume token, epoch milliseconds, or (neither) the latest record. */
export type SubscribeInit = { stream: string; resumeToken?: string; fromTimestampMs?: number };

export function encodeSubscribe({ stream, resumeToken, fromTimestampMs }: SubscribeInit): Uint8Array {
  const start =
    resumeToken !== undefined
      ? ({ case: "resumeToken", value: resumeToken } as const)
      : fromTimestampMs !== undefined
        ? ({ case: "fromTimestampMs", value: BigInt(Math.max(0, Math.floor(fromTimestampMs))) } as const)
        : ({ case: undefined } as const);
  return toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: { case: "subscribe", value: { stream, start } } }));
}

/** ServerFrame's oneof: { case: "welcome" | "error" | "subscribed" | "deliveries" | …, value }. */
export function decodeServerFrame(bytes: Uint8Array): ServerFrame["frame"] {
  return fromBinary(ServerFrameSchema, bytes).frame;
}
