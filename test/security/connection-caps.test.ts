import { describe, expect, it } from "vitest";
import { ConnectionCaps, type ConnectionLimits } from "../../src/security/connection-caps.js";
import { IngestSession } from "../../src/protocol/ingest-session.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { ingestHarness } from "../unit-fixtures/events.js";
import { SMALL_INGEST_LIMITS } from "../unit-fixtures/session-limits.js";
import { clientFrame, FakeTransport } from "../unit-fixtures/fake-transport.js";

const limits: ConnectionLimits = { maxPreauth: 4, maxPreauthPerPeer: 2, maxPerPeer: 3, maxPerTenant: { ingest: 2, subscribe: 1 } };

describe("ConnectionCaps", () => {
  it("caps unauthenticated connections per address (429) and in all (503); an authenticated one frees its place", () => {
    const caps = new ConnectionCaps(limits);
    const a1 = caps.open("a", "ingest");
    caps.open("a", "ingest");
    expect(caps.refusal("a")).toMatchObject({ status: 429, error: { code: "WEIR_ERR_TOO_MANY_CONNECTIONS" } });
    caps.open("b", "ingest");
    caps.open("c", "ingest");
    expect(caps.unauthenticated).toBe(4);
    expect(caps.refusal("d")).toMatchObject({ status: 503 });
    expect(caps.refusal("d")!.error.message).toContain("4 unauthenticated");
    expect(a1.authenticated("acme")).toBeUndefined();
    expect(caps.unauthenticated).toBe(3);
    expect(caps.refusal("d")).toBeUndefined();
    expect(caps.refusal("a")).toBeUndefined();
  });

  it("caps open connections per address, authenticated or not", () => {
    const caps = new ConnectionCaps(limits);
    for (let i = 0; i < 3; i++) caps.open("a", "ingest").authenticated(`t${i}`);
    expect(caps.refusal("a")).toMatchObject({ status: 429 });
    expect(caps.refusal("a")!.error.message).toContain("3 from a");
    expect(caps.refusal("b")).toBeUndefined();
  });

  it("caps a tenant's connections per kind, and counts a released one out exactly once", () => {
    const caps = new ConnectionCaps({ ...limits, maxPerPeer: 0, maxPreauthPerPeer: 0 });
    const first = caps.open("a", "ingest");
    expect(first.authenticated("acme")).toBeUndefined();
    expect(caps.open("a", "ingest").authenticated("acme")).toBeUndefined();
    const third = caps.open("a", "ingest");
    expect(third.authenticated("acme")?.message).toContain("2 ingest connections of tenant acme");
    expect(caps.open("a", "ingest").authenticated("globex")).toBeUndefined();
    // Subscribers are counted apart from publishers.
    expect(caps.open("a", "subscribe").authenticated("acme")).toBeUndefined();
    expect(caps.open("a", "subscribe").authenticated("acme")).toBeDefined();
    third.release();
    first.release();
    first.release();
    expect(caps.open("a", "ingest").authenticated("acme")).toBeUndefined();
    expect(caps.open("a", "ingest").authenticated("acme")).toBeDefined();
  });

  it("forgets addresses and tenants once their connections are gone", () => {
    const caps = new ConnectionCaps(limits);
    const slots = Array.from({ length: 100 }, (_, i) => caps.open(`10.0.0.${i}`, "ingest"));
    slots.forEach((s, i) => (i % 2 ? s.authenticated(`t${i}`) : undefined));
    for (const s of slots) s.release();
    expect(caps.unauthenticated).toBe(0);
    const maps = caps as unknown as Record<"preauthByPeer" | "byPeer" | "byTenant", Map<string, number>>;
    expect([maps.preauthByPeer.size, maps.byPeer.size, maps.byTenant.size]).toEqual([0, 0, 0]);
  });
});

describe("a session with a connection slot", () => {
  const authenticator = apiKeyAuthenticator(new Map([["acme", "k"]]));
  const hello = clientFrame({ case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: "acme", apiKey: "k" } });
  const connect = (caps: ConnectionCaps) => {
    const transport = new FakeTransport();
    const conn = new IngestSession(
      transport,
      { publisher: ingestHarness().service, authenticator, limits: SMALL_INGEST_LIMITS, serverId: "gw" },
      caps.open(transport.peer, "ingest"),
    );
    return { transport, conn };
  };

  it("is closed after its Hello with 1013 WEIR_ERR_TOO_MANY_CONNECTIONS when its tenant is at its cap, and frees its place when it ends", () => {
    const caps = new ConnectionCaps({ maxPreauth: 10, maxPreauthPerPeer: 0, maxPerPeer: 0, maxPerTenant: { ingest: 1, subscribe: 1 } });
    const first = connect(caps);
    first.conn.onMessage(hello, true);
    expect(first.transport.framesOf("welcome")).toHaveLength(1);

    const second = connect(caps);
    second.conn.onMessage(hello, true);
    expect(second.transport.framesOf("welcome")).toHaveLength(0);
    expect(second.transport.framesOf("error")[0]).toMatchObject({ errorCode: "WEIR_ERR_TOO_MANY_CONNECTIONS", closeCode: 1013 });
    expect(second.transport.closed).toEqual({ code: 1013, reason: "WEIR_ERR_TOO_MANY_CONNECTIONS" });
    expect(caps.unauthenticated).toBe(0);

    first.conn.onClose();
    const third = connect(caps);
    third.conn.onMessage(hello, true);
    expect(third.transport.framesOf("welcome")).toHaveLength(1);
    third.conn.onClose();
  });
});
