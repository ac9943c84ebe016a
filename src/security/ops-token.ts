/**
 * The metrics token (WEIR_METRICS_TOKEN) checked in constant time: both sides hashed first, so
 * neither the token's length nor its bytes leak through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { bearerToken } from "../protocol/http-credentials.js";

/** Whether an Authorization header carries `token` as its bearer token. */
export function bearerMatcher(token: string): (authorization: string) => boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  const expected = digest(token);
  return (authorization) => {
    const bearer = bearerToken(authorization);
    return bearer !== "" && timingSafeEqual(digest(bearer), expected);
  };
}
