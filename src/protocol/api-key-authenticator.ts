/**
 * The API-key Authenticator: a Hello is its tenant when the SHA-256 of its key equals the digest
 * configured for that tenant. Keys are configured as `tenant:sha256:<hex>` (only the digest is
 * stored anywhere) or, for local use, `tenant:<key>` (hashed at start, the key itself dropped).
 * Digests are compared in time independent of where they differ, and an unknown tenant costs the
 * same digest and comparison as a known one. Synchronous (node:crypto, which Deno implements too),
 * so a Hello with a key is answered in the same turn, in the gateway (Node) and the relay (Deno).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { WeirError } from "../errors.js";
import type { Grants } from "./grants.js";
import type { Authenticator } from "./ports.js";

const HASHED = /^sha256:([0-9a-f]{64})$/i;

/**
 * `keys`: tenant → its key or "sha256:<hex>" digest. `grants`: what each tenant may do (a tenant
 * absent there may do everything).
 */
export function apiKeyAuthenticator(keys: ReadonlyMap<string, string>, grants: ReadonlyMap<string, Grants> = new Map()): Authenticator {
  const digests = new Map<string, Buffer>();
  for (const [tenant, key] of keys) digests.set(tenant, digestOf(key));
  const none = sha256("");
  return {
    authenticate(hello) {
      if (hello.apiKey === "") return new WeirError(hello.token ? "WEIR_ERR_BAD_TOKEN" : "WEIR_ERR_UNAUTHORIZED", "this server takes API keys, not tokens");
      const expected = digests.get(hello.tenant);
      const same = timingSafeEqual(sha256(hello.apiKey), expected ?? none);
      if (!expected || !same) return new WeirError("WEIR_ERR_UNAUTHORIZED");
      const granted = grants.get(hello.tenant);
      return granted ? { tenant: hello.tenant, grants: granted } : { tenant: hello.tenant };
    },
  };
}

/** The digest a configured key stands for: its own hex, or the SHA-256 of a plain key. */
function digestOf(key: string): Buffer {
  const hex = HASHED.exec(key)?.[1];
  return hex ? Buffer.from(hex, "hex") : sha256(key);
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
