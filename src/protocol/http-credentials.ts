/**
 * Credentials in an HTTP Authorization header, for the pages beside the WebSocket endpoints (the
 * gateway's /metrics and /v1/stats, the relay's /v1/refusals). Portable (no Buffer): the relay
 * runs it on Deno.
 */

/** The bearer token of an Authorization header ("" when there is none). */
export function bearerToken(authorization: string | null): string {
  const m = /^Bearer\s+(\S+)$/i.exec((authorization ?? "").trim());
  return m ? m[1]! : "";
}

/** The tenant and API key of a `Basic base64(tenant:key)` header (UTF-8, split at the first ':'), if it is one. */
export function basicCredentials(authorization: string | null): { tenant: string; apiKey: string } | undefined {
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec((authorization ?? "").trim())?.[1];
  if (!encoded) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  return colon > 0 ? { tenant: text.slice(0, colon), apiKey: text.slice(colon + 1) } : undefined;
}
