/**
 * The relay's settings file (src/relay/config.ts): defaults, required fields, and WEIR_ERR_CONFIG errors that
 * name the file and the field's path (unknown keys included: a typo never falls back to a default silently).
 */
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
    expect((err as WeirError).message).toMatch(/^invalid configuration: relay\.json: /);
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
  expect(c.maxEventBytes).toBe(256 * 1024);
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
  expect(refusal(null)).toContain("relay.json: expected object, got null");
  expect(refusal(undefined)).toContain("relay.json: required (expected object)");
  expect(refusal(42)).toContain("relay.json: expected object, got number");
  expect(refusal(["relay.json"])).toContain("relay.json: expected object, got array");
});

test("upstream and devices are required", () => {
  expect(refusal({ devices: minimal.devices })).toContain("relay.json: upstream: required (expected object)");
  expect(refusal({ upstream: minimal.upstream })).toContain("relay.json: devices: required (expected array)");
  expect(refusal({ ...minimal, devices: [] })).toContain('relay.json: devices: must list "tenant:key" pairs');
  expect(refusal({ ...minimal, devices: "plant-1:k1" })).toContain("relay.json: devices: expected array, got string");
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, tenant: undefined } })).toContain("relay.json: upstream.tenant: required (expected string)");
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, apiKey: "" } })).toContain("relay.json: upstream.apiKey: must not be empty");
});

test("upstream.urls must be a non-empty list of ws:// or wss:// URLs", () => {
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, urls: undefined } })).toContain("relay.json: upstream.urls: required (expected array)");
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, urls: [] } })).toContain("relay.json: upstream.urls: must list ws:// or wss:// URLs");
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, urls: "ws://a/v1/ingest" } })).toContain(
    "relay.json: upstream.urls: expected array, got string",
  );
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, urls: ["http://a/v1/ingest"] } })).toContain(
    'relay.json: upstream.urls[0]: "http://a/v1/ingest" is not a ws:// or wss:// URL',
  );
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, urls: ["ws://a/v1/ingest", "https://b"] } })).toContain("relay.json: upstream.urls[1]: ");
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, urls: [42] } })).toContain("relay.json: upstream.urls[0]: expected string, got number");
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, urls: ["a:8080"] } })).toContain(
    'relay.json: upstream.urls[0]: "a:8080" is not a ws:// or wss:// URL',
  );
});

test('device entries must be "tenant:key" with both parts', () => {
  for (const pair of ["plant-1", ":k1", "plant-1:", ""]) {
    expect(refusal({ ...minimal, devices: ["ok:k", pair] }), JSON.stringify(pair)).toContain(
      `relay.json: devices[1]: ${JSON.stringify(pair)} is not tenant:key`,
    );
  }
  expect(refusal({ ...minimal, devices: ["ok:k", 42] })).toContain("relay.json: devices[1]: expected string, got number");
  expect(refusal({ ...minimal, devices: ["ok:k", null] })).toContain("relay.json: devices[1]: expected string, got null");
});

test("numbers must be integers within range, and the message names the setting and the value", () => {
  expect(refusal({ ...minimal, credit: 0 })).toContain("relay.json: credit: must be >= 1");
  expect(refusal({ ...minimal, credit: 1.5 })).toContain("relay.json: credit: expected an integer, got 1.5");
  expect(refusal({ ...minimal, maxBatchEvents: "500" })).toContain("relay.json: maxBatchEvents: expected number, got string");
  expect(refusal({ ...minimal, maxEventBytes: -1 })).toContain("relay.json: maxEventBytes: must be >= 1");
  expect(refusal({ ...minimal, maxBufferedEvents: 0 })).toContain("relay.json: maxBufferedEvents: must be >= 1");
  expect(refusal({ ...minimal, lingerMs: -1 })).toContain("relay.json: lingerMs: must be >= 0");
  expect(refusal({ ...minimal, listen: { port: -1 } })).toContain("relay.json: listen.port: must be >= 0");
  expect(refusal({ ...minimal, listen: { port: 65536 } })).toContain("relay.json: listen.port: must be <= 65535");
  expect(refusal({ ...minimal, listen: { port: "8787" } })).toContain("relay.json: listen.port: expected number, got string");
});

test("strings must be non-empty", () => {
  expect(refusal({ ...minimal, listen: { host: "" } })).toContain("relay.json: listen.host: must not be empty");
  expect(refusal({ ...minimal, outbox: "" })).toContain("relay.json: outbox: must not be empty");
  expect(refusal({ ...minimal, relayId: 7 })).toContain("relay.json: relayId: expected string, got number");
});

test("bad rules are refused with the rule's index", () => {
  expect(refusal({ ...minimal, rules: [{ action: "drop" }, { action: "conflate" }] })).toContain("relay.json: rules[1].windowMs: required (expected number)");
  expect(refusal({ ...minimal, rules: [{ action: "conflate", windowMs: 0 }] })).toContain("relay.json: rules[0].windowMs: must be >= 1");
  expect(refusal({ ...minimal, rules: [{ action: "forward" }] })).toContain('relay.json: rules[0].action: expected "drop" or "conflate", got "forward"');
  expect(refusal({ ...minimal, rules: [{ match: { type: "T" } }] })).toContain('relay.json: rules[0].action: expected "drop" or "conflate", got nothing');
  expect(refusal({ ...minimal, rules: [{ action: "drop", match: { attributes: { level: 3 } } }] })).toContain(
    "relay.json: rules[0].match.attributes.level: expected string, got number",
  );
  expect(refusal({ ...minimal, rules: { action: "drop" } })).toContain("relay.json: rules: expected array, got object");
});

test("an unknown key at the top level is refused, naming it", () => {
  expect(refusal({ ...minimal, credits: 5 })).toContain("relay.json: credits: unknown key");
  expect(refusal({ ...minimal, listen: { host: "0.0.0.0", prot: 1 } })).toContain("relay.json: listen.prot: unknown key");
  expect(refusal({ ...minimal, upstream: { ...minimal.upstream, url: "ws://a" } })).toContain("relay.json: upstream.url: unknown key");
});

test("an unknown key inside a rule is refused, naming the rule", () => {
  const rules = [{ action: "drop" }, { action: "drop" }, { action: "conflate", windowMs: 100, widowMs: 5 }];
  expect(refusal({ ...minimal, rules })).toContain("relay.json: rules[2].widowMs: unknown key");
  expect(refusal({ ...minimal, rules: [{ action: "drop", match: { typ: "weir.events.v1.Quote" } }] })).toContain("relay.json: rules[0].match.typ: unknown key");
  // windowMs means nothing to drop: most likely a mistaken action, so it is refused rather than ignored.
  expect(refusal({ ...minimal, rules: [{ action: "drop", windowMs: 5 }] })).toContain("relay.json: rules[0].windowMs: unknown key");
});

test("a field of the wrong type is refused, naming its path", () => {
  const rules = [{ action: "drop" }, { action: "drop" }, { action: "conflate", windowMs: "100" }];
  expect(refusal({ ...minimal, rules })).toContain("relay.json: rules[2].windowMs: expected number, got string");
  expect(refusal({ ...minimal, listen: "0.0.0.0:8787" })).toContain("relay.json: listen: expected object, got string");
});

test("the error names the file the config came from", () => {
  try {
    parseRelayConfig({ ...minimal, credits: 5 }, "/etc/weir/edge.json");
    expect.unreachable();
  } catch (err) {
    expect((err as WeirError).message).toContain("/etc/weir/edge.json: credits: unknown key");
  }
});

test("several problems are reported together", () => {
  const message = refusal({ ...minimal, credits: 5, lingerMs: -1 });
  expect(message).toContain("credits: unknown key");
  expect(message).toContain("lingerMs: must be >= 0");
});
