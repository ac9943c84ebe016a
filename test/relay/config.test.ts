/** The relay's settings file (src/relay/config.ts): defaults, required fields, clear WEIR_ERR_CONFIG errors. */
import { expect, test } from "vitest";
import { WeirError } from "../../src/errors.js";
import { parseRelayConfig } from "../../src/relay/config.js";

const minimal = { upstream: { urls: ["wss://weir.example.com/v1/ingest"], tenant: "acme", apiKey: "up-key" }, devices: ["plant-1:k1"] };

/** The WEIR_ERR_CONFIG error parseRelayConfig throws for `raw`. */
function refusal(raw: unknown): string {
  try {
    parseRelayConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(WeirError);
    expect((err as WeirError).code).toBe("WEIR_ERR_CONFIG");
    expect((err as WeirError).message).toMatch(/^invalid configuration: relay: /);
    return (err as WeirError).message;
  }
  throw new Error(`parseRelayConfig accepted ${JSON.stringify(raw)}`);
}

test("a minimal config gets working local defaults", () => {
  const c = parseRelayConfig(minimal);
  expect(c.listen).toEqual({ host: "127.0.0.1", port: 8787 });
  expect(c.upstream).toEqual({ urls: ["wss://weir.example.com/v1/ingest"], tenant: "acme", apiKey: "up-key" });
  expect([...c.devices]).toEqual([["plant-1", "k1"]]);
  expect(c.outbox).toBe("weir-relay-outbox.log");
  expect(c.relayId).toMatch(/^relay-[0-9a-f]{8}$/);
  expect(c.credit).toBe(1000);
  expect(c.maxBatchEvents).toBe(500);
  expect(c.maxEventBytes).toBe(1 << 20);
  expect(c.maxBufferedEvents).toBe(100_000);
  expect(c.lingerMs).toBe(20);
  expect(c.rules).toEqual([]);
  // Each run without a relayId gets its own.
  expect(parseRelayConfig(minimal).relayId).not.toBe(c.relayId);
});

test("every setting can be given", () => {
  const { devices, ...given } = {
    listen: { host: "0.0.0.0", port: 0 },
    upstream: { urls: ["ws://a:1/v1/ingest", "wss://b/v1/ingest"], tenant: "t", apiKey: "k" },
    devices: ["plant-1:k1", "plant-2:k2"],
    outbox: "/var/lib/relay/outbox.log",
    relayId: "edge-7",
    credit: 5,
    maxBatchEvents: 3,
    maxEventBytes: 2048,
    maxBufferedEvents: 10,
    lingerMs: 0,
    rules: [{ match: { type: "weir.events.v1.Quote" }, action: "conflate", windowMs: 100 }],
  };
  const c = parseRelayConfig({ ...minimal, ...given, devices });
  expect(c).toMatchObject(given);
  expect(Object.fromEntries(c.devices)).toEqual({ "plant-1": "k1", "plant-2": "k2" });
});

test("device pairs split at the first ':' only: keys may contain ':'", () => {
  const c = parseRelayConfig({ ...minimal, devices: ["plant-1:a:b:c", "plant-2::"] });
  expect(c.devices.get("plant-1")).toBe("a:b:c");
  expect(c.devices.get("plant-2")).toBe(":");
});

test("the config must be an object", () => {
  for (const raw of [null, undefined, 42, "relay.json"]) expect(refusal(raw)).toMatch(/must be a JSON object/);
});

test("upstream and devices are required", () => {
  expect(refusal({ devices: minimal.devices })).toMatch(/upstream \{ urls, tenant, apiKey \} is required/);
  expect(refusal({ upstream: minimal.upstream })).toMatch(/devices must list "tenant:key" pairs/);
  expect(refusal({ ...minimal, devices: [] })).toMatch(/devices must list/);
  expect(refusal({ ...minimal, devices: "plant-1:k1" })).toMatch(/devices must list/);
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, tenant: undefined } })).toMatch(/tenant must be a non-empty string/);
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, apiKey: "" } })).toMatch(/apiKey must be a non-empty string/);
});

test("upstream.urls must be a non-empty list of ws:// or wss:// URLs", () => {
  for (const urls of [undefined, [], "ws://a/v1/ingest", ["http://a/v1/ingest"], ["ws://a/v1/ingest", "https://b"], [42], ["a:8080"]]) {
    expect(refusal({ ...minimal, upstream: { ...minimal.upstream, urls } }), JSON.stringify(urls)).toMatch(/upstream\.urls must list ws:\/\/ or wss:\/\/ URLs/);
  }
});

test('device entries must be "tenant:key" with both parts', () => {
  for (const pair of ["plant-1", ":k1", "plant-1:", "", 42, null]) {
    expect(refusal({ ...minimal, devices: ["ok:k", pair] }), JSON.stringify(pair)).toMatch(/devices: ".*" is not tenant:key/);
  }
  expect(refusal({ ...minimal, devices: ["plant-1"] })).toContain('devices: "plant-1" is not tenant:key');
});

test("numbers must be integers within range, and the message names the setting and the value", () => {
  expect(refusal({ ...minimal, credit: 0 })).toContain("credit must be an integer ≥ 1, got 0");
  expect(refusal({ ...minimal, credit: 1.5 })).toContain("credit must be an integer ≥ 1, got 1.5");
  expect(refusal({ ...minimal, maxBatchEvents: "500" })).toContain('maxBatchEvents must be an integer ≥ 1, got "500"');
  expect(refusal({ ...minimal, maxEventBytes: -1 })).toContain("maxEventBytes must be an integer ≥ 1");
  expect(refusal({ ...minimal, maxBufferedEvents: 0 })).toContain("maxBufferedEvents must be an integer ≥ 1");
  expect(refusal({ ...minimal, lingerMs: -1 })).toContain("lingerMs must be an integer ≥ 0, got -1");
  expect(refusal({ ...minimal, listen: { port: -1 } })).toContain("port must be an integer ≥ 0, got -1");
  expect(refusal({ ...minimal, listen: { port: "8787" } })).toContain("port must be an integer ≥ 0");
});

test("strings must be non-empty", () => {
  expect(refusal({ ...minimal, listen: { host: "" } })).toContain("host must be a non-empty string");
  expect(refusal({ ...minimal, outbox: "" })).toContain("outbox must be a non-empty string");
  expect(refusal({ ...minimal, relayId: 7 })).toContain("relayId must be a non-empty string");
});

test("bad rules are refused with the rule's index", () => {
  expect(refusal({ ...minimal, rules: [{ action: "drop" }, { action: "conflate" }] })).toContain("rules[1]: conflate needs windowMs");
  expect(refusal({ ...minimal, rules: { action: "drop" } })).toContain("rules must be a list");
});
