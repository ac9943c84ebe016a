/**
 * The token Authenticator: a Hello (or a Refresh) carrying a JWT is its tenant when the token's
 * signature verifies against the configured keys — a JWKS URL (fetched by jose, refetched when a
 * token names a key id it has not seen: key rotation), an inline JWKS, or a shared HS256 secret —
 * and its issuer, audience and expiry check out. The tenant and its grants are claims:
 *   weir_tenant (name configurable)   the tenant
 *   weir_publish                      event types it may publish (patterns, see grants.ts)
 *   weir_subscribe                    streams it may subscribe to
 * A token without weir_publish / weir_subscribe may do nothing of that kind: grants are opt-in.
 * `exp` is required: the connection closes when it passes unless a Refresh brought a new token.
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { WeirError } from "../errors.js";
import { grantsFrom } from "./grants.js";
import type { Authenticator, Principal } from "./ports.js";

export type JwtOptions = {
  /** Where the issuer publishes its keys (JWKS). */
  readonly jwksUrl?: string;
  /** Keys given inline (a JWKS). */
  readonly jwks?: JSONWebKeySet;
  /** A shared secret for HS256 tokens (tests, single-party setups). */
  readonly secret?: string;
  /** Required `iss`, when set. */
  readonly issuer?: string;
  /** Required `aud`, when set. */
  readonly audience?: string;
  /** The claim naming the tenant (default "weir_tenant"). */
  readonly tenantClaim?: string;
  /** Leeway for `exp` and `nbf` between clocks (default 5 s). */
  readonly clockToleranceSec?: number;
};

export function jwtAuthenticator(opts: JwtOptions): Authenticator {
  const key = verificationKey(opts);
  const tenantClaim = opts.tenantClaim ?? "weir_tenant";
  return {
    async authenticate(hello) {
      if (hello.token === "") return new WeirError("WEIR_ERR_UNAUTHORIZED");
      let payload: JWTPayload;
      try {
        const checks = {
          ...(opts.issuer ? { issuer: opts.issuer } : {}),
          ...(opts.audience ? { audience: opts.audience } : {}),
          clockTolerance: opts.clockToleranceSec ?? 5,
          requiredClaims: ["exp"],
        };
        ({ payload } = typeof key === "function" ? await jwtVerify(hello.token, key, checks) : await jwtVerify(hello.token, key, checks));
      } catch (err) {
        return new WeirError("WEIR_ERR_BAD_TOKEN", reasonOf(err));
      }
      const tenant = payload[tenantClaim];
      if (typeof tenant !== "string" || tenant === "" || tenant.includes("/"))
        return new WeirError("WEIR_ERR_BAD_TOKEN", `claim ${tenantClaim} must name a tenant`);
      if (hello.tenant !== "" && hello.tenant !== tenant) return new WeirError("WEIR_ERR_BAD_TOKEN", `it names tenant ${tenant}, the Hello ${hello.tenant}`);
      const grants = grantsFrom(payload.weir_publish, payload.weir_subscribe);
      if (typeof grants === "string") return new WeirError("WEIR_ERR_BAD_TOKEN", `claim weir_${grants}`);
      const principal: Principal = { tenant, grants, expiresAtMs: payload.exp! * 1000 };
      return principal;
    },
  };
}

type Key = JWTVerifyGetKey | Uint8Array;

function verificationKey(opts: JwtOptions): Key {
  if (opts.jwksUrl) return createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  if (opts.jwks) return createLocalJWKSet(opts.jwks);
  if (opts.secret) return new TextEncoder().encode(opts.secret);
  throw new WeirError("WEIR_ERR_CONFIG", "tokens need keys: a JWKS URL, an inline JWKS or a secret");
}

/** A short reason for a refused token that tells the client what to fix, without echoing the token. */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `claim ${err.claim}: ${err.reason}`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return "signature does not verify";
  if (err instanceof errors.JWKSNoMatchingKey) return "no key matches its key id";
  if (err instanceof errors.JOSEError) return err.code;
  return "malformed";
}

/**
 * Tokens where a Hello carries one, API keys otherwise: the gateway's authenticator when both are
 * configured. Without token keys every token is refused; without API keys every key is.
 */
export function credentialsAuthenticator(parts: { readonly tokens?: Authenticator; readonly apiKeys?: Authenticator }): Authenticator {
  return {
    authenticate(hello) {
      const by = hello.token !== "" ? parts.tokens : parts.apiKeys;
      if (!by) return new WeirError(hello.token !== "" ? "WEIR_ERR_BAD_TOKEN" : "WEIR_ERR_UNAUTHORIZED", "this server does not take them");
      return by.authenticate(hello);
    },
  };
}
