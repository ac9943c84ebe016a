/**
 * One process's share of a gateway's bounds when `weir gateway` runs as several ingest processes
 * on one port (WEIR_INGEST_PROCESSES, decision 0022). Every bound the config states per gateway —
 * events and bytes in flight, tenant quotas, connection caps, catch-up readers, failed handshakes
 * per address — is divided among the processes, rounded up and at least 1 where 0 does not mean
 * "no limit", so the group as a whole keeps (within rounding) the bounds the operator set. The
 * kernel spreads connections over the processes evenly, not a tenant's traffic, so a quota is
 * exact per process and approximate per gateway.
 */
import type { Config } from "../config.js";

/** Set by a group's primary on the processes it forks: the group's size (internal, not a user setting). */
export const INGEST_WORKER_ENV = "WEIR_INGEST_WORKER_OF";

/** The group size this process was forked into, or 0 when it was not forked by a primary. */
export function ingestWorkerOf(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env[INGEST_WORKER_ENV] ?? 0);
  return Number.isInteger(n) && n > 1 ? n : 0;
}

export function processShare(config: Config, processes: number): Config {
  if (processes <= 1) return config;
  /** A bound of 0 means "none" for these settings and stays 0. */
  const part = (n: number) => (n === 0 ? 0 : Math.max(1, Math.ceil(n / processes)));
  return Object.freeze({
    ...config,
    maxInFlightEvents: part(config.maxInFlightEvents),
    maxInFlightBytes: part(config.maxInFlightBytes),
    tenantEventsPerSec: part(config.tenantEventsPerSec),
    tenantBytesPerSec: part(config.tenantBytesPerSec),
    tenantQuotas: Object.fromEntries(
      Object.entries(config.tenantQuotas).map(([tenant, q]) => [tenant, { eventsPerSec: part(q.eventsPerSec), bytesPerSec: part(q.bytesPerSec) }]),
    ),
    maxPreauthConnections: part(config.maxPreauthConnections),
    maxPreauthPerIp: part(config.maxPreauthPerIp),
    maxConnectionsPerIp: part(config.maxConnectionsPerIp),
    maxConnectionsPerTenant: part(config.maxConnectionsPerTenant),
    maxSubscriptionsPerTenant: part(config.maxSubscriptionsPerTenant),
    maxCatchUpReaders: part(config.maxCatchUpReaders),
    authMaxFailures: part(config.authMaxFailures),
  });
}
