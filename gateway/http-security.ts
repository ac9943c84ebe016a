/**
 * What every HTTP answer of the gateway carries, and who may read its operational pages.
 *   - Security headers on every response: no MIME sniffing, no framing, no referrer; the
 *     dashboard gets a Content-Security-Policy that allows only its own scripts and sockets, API
 *     answers one that allows nothing. HSTS when served over TLS.
 *   - Browser origins: a WebSocket upgrade that carries an Origin (browsers always send one) is
 *     accepted from the gateway's own origin (the dashboard) and from WEIR_ALLOWED_ORIGINS; with
 *     the list empty any origin may connect (credentials still decide who is served).
 *   - /metrics needs WEIR_METRICS_TOKEN as a bearer token once it is set; /v1/stats takes that
 *     token or a tenant's own credentials (the dashboard's).
 */
import type uWS from "uWebSockets.js";

export type PageKind = "page" | "api";

const COMMON: ReadonlyArray<readonly [string, string]> = [
  ["x-content-type-options", "nosniff"],
  ["x-frame-options", "DENY"],
  ["referrer-policy", "no-referrer"],
  ["cross-origin-opener-policy", "same-origin"],
];

const CSP: Record<PageKind, string> = {
  page: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  api: "default-src 'none'; frame-ancestors 'none'",
};

/** Writes the security headers (call inside res.cork, after writeStatus). */
export function writeSecurityHeaders(res: uWS.HttpResponse, kind: PageKind, tls: boolean): uWS.HttpResponse {
  for (const [name, value] of COMMON) res.writeHeader(name, value);
  res.writeHeader("content-security-policy", CSP[kind]);
  if (kind === "api") res.writeHeader("cache-control", "no-store");
  if (tls) res.writeHeader("strict-transport-security", "max-age=31536000");
  return res;
}

/**
 * Whether a WebSocket upgrade's Origin may connect: no Origin (not a browser), the gateway's own
 * origin (same host as the request), or one of `allowed` (exact, e.g. `https://app.example.com`);
 * an empty `allowed` lets any origin connect.
 */
export function originAllowed(origin: string, host: string, allowed: readonly string[]): boolean {
  if (!origin || allowed.length === 0) return true;
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
