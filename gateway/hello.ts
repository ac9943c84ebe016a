/** The Hello both endpoints start with: protocol version and tenant credentials. */
import { timingSafeEqual } from "node:crypto";
import type { Hello } from "../src/gen/weir/v1/protocol_pb.js";
import { WeirError } from "../src/errors.js";

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
