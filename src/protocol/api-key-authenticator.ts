/**
 * The API-key Authenticator: a Hello is its tenant when its key matches the one configured for
 * that tenant. Compared in time independent of where the keys differ, in plain JS so the same
 * code runs in the gateway (Node) and in the relay (Deno).
 */
import { WeirError } from "../errors.js";
import type { Authenticator } from "./ports.js";

export function apiKeyAuthenticator(keys: ReadonlyMap<string, string>): Authenticator {
  return {
    authenticate(hello) {
      const expected = keys.get(hello.tenant);
      if (expected === undefined || !sameSecret(hello.apiKey, expected)) return new WeirError("WEIR_ERR_UNAUTHORIZED");
      return { tenant: hello.tenant };
    },
  };
}

const encoder = new TextEncoder();

/** Whether two secrets are equal, taking the same time wherever they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
