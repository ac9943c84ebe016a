/** What both endpoints (/v1/ingest, /v1/subscribe) share: frame decoding and the Hello check. */
import { timingSafeEqual } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, type ClientFrame, type Hello } from "../gen/weir/v1/protocol_pb.js";
import { WeirError } from "../errors.js";

export const PROTOCOL_VERSION = 1;

/** Why this Hello is refused, or undefined when the tenant may go on. */
export function refuseHello(hello: Hello, apiKeys: ReadonlyMap<string, string>): WeirError | undefined {
  if (hello.protocolVersion !== PROTOCOL_VERSION) return new WeirError("WEIR_ERR_UNSUPPORTED_VERSION", hello.protocolVersion, PROTOCOL_VERSION);
  const expected = apiKeys.get(hello.tenant);
  if (expected === undefined) return new WeirError("WEIR_ERR_UNAUTHORIZED");
  const a = Buffer.from(hello.apiKey);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b) ? undefined : new WeirError("WEIR_ERR_UNAUTHORIZED");
}

/** One WebSocket message as a client frame, or the error that closes the connection. */
export function decodeClientFrame(bytes: Uint8Array, isBinary: boolean): ClientFrame["frame"] | WeirError {
  if (!isBinary) return new WeirError("WEIR_ERR_BAD_FRAME", "text frames are not part of the protocol");
  try {
    return fromBinary(ClientFrameSchema, bytes).frame;
  } catch (err) {
    return new WeirError("WEIR_ERR_BAD_FRAME", (err as Error).message);
  }
}
