/** The gateway's Authenticator from its settings: tokens (JWT) where configured, API keys where configured. */
import type { Config } from "../src/config.js";
import { parseApiKeys } from "../src/config.js";
import { apiKeyAuthenticator } from "../src/protocol/api-key-authenticator.js";
import { credentialsAuthenticator, jwtAuthenticator } from "../src/protocol/jwt-authenticator.js";
import type { Authenticator } from "../src/protocol/ports.js";
import type { JSONWebKeySet } from "jose";

export function gatewayAuthenticator(config: Config): Authenticator {
  const apiKeys = config.apiKeys.length > 0 ? apiKeyAuthenticator(parseApiKeys(config.apiKeys), new Map(Object.entries(config.tenantGrants))) : undefined;
  const tokens =
    config.jwtJwksUrl || config.jwtJwks || config.jwtSecret
      ? jwtAuthenticator({
          ...(config.jwtJwksUrl ? { jwksUrl: config.jwtJwksUrl } : {}),
          ...(config.jwtJwks ? { jwks: JSON.parse(config.jwtJwks) as JSONWebKeySet } : {}),
          ...(config.jwtSecret ? { secret: config.jwtSecret } : {}),
          ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
          ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
          tenantClaim: config.jwtTenantClaim,
        })
      : undefined;
  return credentialsAuthenticator({ ...(tokens ? { tokens } : {}), ...(apiKeys ? { apiKeys } : {}) });
}
