import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config.js";
import { processShare } from "../../src/config/process-share.js";
import { mergeStats } from "../../gateway/group-stats.js";

describe("processShare", () => {
  it("divides every per-gateway bound among the processes, rounding up, keeping 0 (no limit) as 0", () => {
    const config = resolveConfig(
      {
        maxInFlightEvents: 50_000,
        maxInFlightBytes: 4097,
        tenantEventsPerSec: 0,
        tenantBytesPerSec: 999,
        tenantQuotas: { acme: { eventsPerSec: 5, bytesPerSec: 0 } },
        maxPreauthConnections: 32,
        maxPreauthPerIp: 1,
        maxConnectionsPerIp: 0,
        maxConnectionsPerTenant: 1000,
        maxSubscriptionsPerTenant: 100,
        maxCatchUpReaders: 3,
        authMaxFailures: 20,
      },
      {},
    );
    const share = processShare(config, 4);
    expect(share).toMatchObject({
      maxInFlightEvents: 12_500,
      maxInFlightBytes: 1025,
      tenantEventsPerSec: 0,
      tenantBytesPerSec: 250,
      tenantQuotas: { acme: { eventsPerSec: 2, bytesPerSec: 0 } },
      maxPreauthConnections: 8,
      maxPreauthPerIp: 1,
      maxConnectionsPerIp: 0,
      maxConnectionsPerTenant: 250,
      maxSubscriptionsPerTenant: 25,
      maxCatchUpReaders: 1,
      authMaxFailures: 5,
    });
    // Everything else as configured.
    expect(share.kafkaBrokers).toEqual(config.kafkaBrokers);
    expect(processShare(config, 1)).toBe(config);
  });
});

describe("mergeStats", () => {
  it("adds counts and levels, keeps the largest latency and clock, and the first process's names and lists", () => {
    const a = {
      gatewayId: "gw",
      state: "ready",
      uptimeMs: 10,
      nowMs: 100,
      ingest: { ack: 5, inFlightEvents: 2, batchLatencyMs: { p50: 1, p99: 9 } },
      subscribers: 1,
      processors: [{ job: "x" }],
    };
    const b = {
      gatewayId: "gw",
      state: "ready",
      uptimeMs: 8,
      nowMs: 101,
      ingest: { ack: 7, inFlightEvents: 3, batchLatencyMs: { p50: 2, p99: 4 } },
      subscribers: 2,
      processors: [],
    };
    expect(mergeStats([a, b])).toEqual({
      gatewayId: "gw",
      state: "ready",
      uptimeMs: 10,
      nowMs: 101,
      ingest: { ack: 12, inFlightEvents: 5, batchLatencyMs: { p50: 2, p99: 9 } },
      subscribers: 3,
      processors: [{ job: "x" }],
    });
    expect(mergeStats([])).toEqual({});
  });
});
