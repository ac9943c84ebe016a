/**
 * What the uWS server is built from: the protocol sessions' limits and ports taken from the
 * config, and the HTTP pages (/readyz, /metrics, /v1/stats, the dashboard) read from the running
 * parts. Pure wiring; gateway.ts decides when the server starts and stops.
 */
import type { Config } from "../src/config.js";
import type { Logger } from "../src/log.js";
import type { Authenticator, Publisher, RefusalReport } from "../src/protocol/ports.js";
import { SecurityAudit } from "../src/security/audit.js";
import { FailedAuthThrottle } from "../src/security/failed-auth-throttle.js";
import { ConnectionCaps } from "../src/security/connection-caps.js";
import type { StreamSource } from "../src/subscribe/subscription.js";
import type { WeirMetrics } from "../src/metrics/prometheus.js";
import type { OpsAccess, ServerOptions } from "./server.js";
import { bearerMatcher } from "../src/security/ops-token.js";
import { basicCredentials, bearerToken } from "../src/protocol/http-credentials.js";
import { create } from "@bufbuild/protobuf";
import { HelloSchema } from "../src/gen/weir/v1/protocol_pb.js";
import { PROTOCOL_VERSION } from "../src/protocol/version.js";
import type { StaticFile } from "./dashboard/files.js";

export type ServerParts = {
  readonly config: Config;
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  readonly publisher: Publisher;
  readonly source: StreamSource;
  readonly metrics: WeirMetrics;
  readonly staticFiles: ReadonlyMap<string, StaticFile>;
  /** Named checks; ready when all hold. */
  readonly readiness: () => Record<string, boolean>;
  readonly stats: () => unknown;
  /** One process of a group sharing the port: the ops pages answer for the whole group. */
  readonly group?: GroupPages;
};

/** A process group's ops pages, merged over its processes (gateway/cli/ingest-group.ts). */
export type GroupPages = {
  /** Every process's metrics, merged (Prometheus text). */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Every process's /v1/stats, merged. */
  stats(): Promise<unknown>;
};

/**
 * Who may read /metrics and /v1/stats: anyone while no metrics token is set; else the bearer of
 * that token, and for /v1/stats also a tenant with its own credentials (a token, or Basic
 * tenant:key). Refusals count as failed authentications (audited, throttled per address).
 */
export function opsAccess(
  metricsToken: string,
  authenticator: Authenticator,
  failures: { blockedFor(peer: string): number; refused(peer: string): void },
): OpsAccess | undefined {
  if (!metricsToken) return undefined;
  const isMetricsToken = bearerMatcher(metricsToken);
  return {
    allowed: async (page, authorization, peer) => {
      if (failures.blockedFor(peer) > 0) return false;
      if (isMetricsToken(authorization)) return true;
      const bearer = bearerToken(authorization);
      if (page === "stats") {
        const basic = basicCredentials(authorization);
        const hello = create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, ...(basic ?? { token: bearer }) });
        if (basic || bearer) {
          const outcome = await Promise.resolve(authenticator.authenticate(hello)).catch((err: unknown) => err);
          if (!(outcome instanceof Error)) return true;
        }
      }
      failures.refused(peer);
      return false;
    },
  };
}

export function serverOptions(parts: ServerParts): ServerOptions {
  const { config, logger, authenticator, metrics } = parts;
  const security = new SecurityAudit(logger, (code) => metrics.refused(code));
  const throttle = new FailedAuthThrottle({ maxFailures: config.authMaxFailures, windowMs: config.authFailureWindowMs });
  const caps = new ConnectionCaps({
    maxPreauth: config.maxPreauthConnections,
    maxPreauthPerPeer: config.maxPreauthPerIp,
    maxPerPeer: config.maxConnectionsPerIp,
    maxPerTenant: { ingest: config.maxConnectionsPerTenant, subscribe: config.maxSubscriptionsPerTenant },
  });
  const audit = (refusal: RefusalReport) => {
    security.record(refusal);
    if ((refusal.code === "WEIR_ERR_UNAUTHORIZED" || refusal.code === "WEIR_ERR_BAD_TOKEN") && refusal.peer) throttle.failed(refusal.peer);
  };
  return {
    host: config.host,
    port: config.port,
    ...(config.tlsCertFile
      ? { tls: { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, ...(config.tlsKeyPassphrase ? { passphrase: config.tlsKeyPassphrase } : {}) } }
      : {}),
    maxFrameBytes: config.maxFrameBytes,
    maxSendBufferBytes: config.maxSendBufferBytes,
    logger,
    staticFiles: parts.staticFiles,
    admission: {
      refusal: (peer) => {
        const waitMs = throttle.blockedFor(peer);
        if (waitMs > 0) {
          security.record({ code: "WEIR_ERR_AUTH_THROTTLED", tenant: "", peer });
          return { status: 429, retryAfterS: Math.ceil(waitMs / 1000) };
        }
        const refused = caps.refusal(peer);
        if (!refused) return undefined;
        security.record({ code: refused.error.code, tenant: "", peer });
        return { status: refused.status, retryAfterS: 1 };
      },
      open: (peer, kind) => caps.open(peer, kind),
      refusedOrigin: (peer) => security.record({ code: "WEIR_ERR_FORBIDDEN_ORIGIN", tenant: "", peer }),
    },
    allowedOrigins: config.allowedOrigins,
    opsAccess: opsAccess(config.metricsToken, authenticator, {
      blockedFor: (peer) => throttle.blockedFor(peer),
      refused: (peer) => audit({ code: "WEIR_ERR_UNAUTHORIZED", tenant: "", peer }),
    }),
    ...(parts.group
      ? { metrics: () => parts.group!.metrics(), stats: () => parts.group!.stats() }
      : { metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }), stats: parts.stats }),
    readiness: () => {
      const checks = parts.readiness();
      return { ready: Object.values(checks).every(Boolean), checks };
    },
    connection: {
      publisher: parts.publisher,
      authenticator,
      serverId: config.gatewayId,
      log: logger,
      audit,
      onPublisherError: (err, session) => logger.error({ err, session }, "publish failed unexpectedly"),
      limits: {
        connectionCredit: config.connectionCredit,
        maxBatchEvents: config.maxBatchEvents,
        maxEventBytes: config.maxEventBytes,
        maxFrameBytes: config.maxFrameBytes,
        maxSendBufferBytes: config.maxSendBufferBytes,
        helloTimeoutMs: config.helloTimeoutMs,
      },
    },
    subscription: {
      authenticator,
      source: parts.source,
      log: logger,
      audit,
      onDelivered: (stream, seconds) => metrics.observeDelivery(stream, seconds),
      limits: { helloTimeoutMs: config.helloTimeoutMs, maxSendBufferBytes: config.maxSendBufferBytes, maxPending: config.subscriberMaxPending },
    },
  };
}
