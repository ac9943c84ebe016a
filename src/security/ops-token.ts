/**
 * Reading credentials of the operational HTTP pages (/metrics, /v1/stats) from an Authorization
 * header, and checking the metrics token in constant time (both sides hashed first, so neither
 * the token's length nor its bytes leak through timing).
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** The bearer token of an Authorization header ("" when there is none). */
export function bearerToken(authorization: string): string {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return m ? m[1]! : "";
}

/** The tenant and API key of a Basic Authorization header, if it is one. */
export function basicCredentials(authorization: string): { tenant: string; apiKey: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization.trim());
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon > 0 ? { tenant: decoded.slice(0, colon), apiKey: decoded.slice(colon + 1) } : undefined;
}

/** Whether an Authorization header carries `token` as its bearer token. */
export function bearerMatcher(token: string): (authorization: string) => boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  const expected = digest(token);
  return (authorization) => {
    const bearer = bearerToken(authorization);
    return bearer !== "" && timingSafeEqual(digest(bearer), expected);
  };
}
