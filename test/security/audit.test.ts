import { describe, expect, it } from "vitest";
import { SMALL_INGEST_LIMITS } from "../unit-fixtures/session-limits.js";
import { SecurityAudit } from "../../src/security/audit.js";
import { LogThrottle } from "../../src/log-throttle.js";
import { IngestSession } from "../../src/protocol/ingest-session.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import type { RefusalReport } from "../../src/protocol/ports.js";
import { clientFrame, FakeTransport } from "../unit-fixtures/fake-transport.js";
import { ingestHarness } from "../unit-fixtures/events.js";

function recorder() {
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const counts = new Map<string, number>();
  const audit = new SecurityAudit(
    { warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ fields, msg }) } as never,
    (code) => counts.set(code, (counts.get(code) ?? 0) + 1),
    10_000,
  );
  return { audit, lines, counts };
}

describe("SecurityAudit", () => {
  it("counts every refusal by code but logs each code at most once per interval, with what it held back", () => {
    const { audit, lines, counts } = recorder();
    for (let i = 0; i < 1786; i++) audit.record({ code: "WEIR_ERR_UNAUTHORIZED", closeCode: 4401, tenant: "", peer: "198.51.100.9" });
    audit.record({ code: "WEIR_ERR_BAD_FRAME", closeCode: 4400, tenant: "acme", peer: "198.51.100.9" });
    expect(counts.get("WEIR_ERR_UNAUTHORIZED")).toBe(1786);
    expect(lines.map((l) => l.msg)).toEqual(["refused: WEIR_ERR_UNAUTHORIZED", "refused: WEIR_ERR_BAD_FRAME"]);
    expect(lines[0]!.fields).toEqual({ security: { code: "WEIR_ERR_UNAUTHORIZED", closeCode: 4401, tenant: "", peer: "198.51.100.9" } });
  });

  it("leaves out closes the server caused (shutdown, internal errors)", () => {
    const { audit, lines, counts } = recorder();
    audit.record({ code: "WEIR_ERR_SHUTDOWN", closeCode: 1001, tenant: "acme", peer: "x" });
    expect([lines.length, counts.size]).toEqual([0, 0]);
  });

  it("throttles per key and reports the lines it held back with the next one", () => {
    const t = new LogThrottle(1000);
    expect(t.admit("k", 0)).toEqual({ log: true, suppressed: 0 });
    expect(t.admit("k", 10).log).toBe(false);
    expect(t.admit("k", 20).log).toBe(false);
    expect(t.admit("other", 30)).toEqual({ log: true, suppressed: 0 });
    expect(t.admit("k", 1500)).toEqual({ log: true, suppressed: 2 });
  });

  it("is fed by a protocol session with the code, the tenant once known, and the peer address", () => {
    const reports: RefusalReport[] = [];
    const transport = new FakeTransport();
    const conn = new IngestSession(transport, {
      publisher: ingestHarness().service,
      authenticator: apiKeyAuthenticator(new Map([["acme", "k"]])),
      limits: { ...SMALL_INGEST_LIMITS, maxBatchEvents: 4 },
      serverId: "gw",
      audit: (r) => reports.push(r),
    });
    conn.onMessage(clientFrame({ case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: "acme", apiKey: "guess" } }), true);
    expect(reports).toEqual([{ code: "WEIR_ERR_UNAUTHORIZED", closeCode: 4401, tenant: "", peer: "203.0.113.7" }]);
  });
});
