/**
 * The stream catalog: which streams a subscriber may ask for, on which topic, with which slow
 * policy, and how a record becomes what a subscriber sees (whose it is, its key, its kind). The
 * tenant check here is what keeps one tenant from reading another's data, so it is tested
 * against records that try to cross it.
 */
import { describe, expect, it } from "vitest";
import { streamCatalog, type StreamSpec } from "../../src/subscribe/streams.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { ALERTS_TOPIC } from "../../src/kafka-contract.js";
import errorRate from "../../examples/jobs/error-rate.js";
import fraud from "../../examples/jobs/fraud.js";
import riskLimits from "../../examples/jobs/risk-limits.js";

const registry = SchemaRegistry.builtin();
const RAW = ["weir.events.v1.Quote", "weir.events.v1.HttpAccessLog"];
/** The jobs a default processor runs: the scenario examples. */
const JOBS = [errorRate, fraud, riskLimits].map((job) => job.name);
const catalog = streamCatalog(registry, { jobs: JOBS, rawTypes: RAW, conflate: ["events.weir.events.v1.Quote", "results.risk-limits"] });
const spec = (name: string): StreamSpec => {
  const s = catalog.get(name);
  if (!s) throw new Error(`no stream ${name}`);
  return s;
};

describe("streamCatalog: the streams offered", () => {
  it("offers results.<job> for every job, alerts, and events.<type> for the allowed raw types only", () => {
    expect([...catalog.keys()].sort()).toEqual(
      [...JOBS.map((j) => `results.${j}`), "alerts", "events.weir.events.v1.Quote", "events.weir.events.v1.HttpAccessLog"].sort(),
    );
    expect(catalog.has("events.weir.events.v1.CardTransaction")).toBe(false);
  });

  it("maps each stream to its topic and content type", () => {
    expect(spec("results.fraud")).toMatchObject({ topic: "weir.results.fraud", contentType: "application/json" });
    expect(spec("alerts")).toMatchObject({ topic: ALERTS_TOPIC, contentType: "application/json" });
    expect(spec("events.weir.events.v1.Quote")).toMatchObject({
      topic: registry.eventType("weir.events.v1.Quote")!.topic,
      contentType: "application/x-protobuf; messageType=weir.events.v1.Quote",
    });
  });

  it("conflates exactly the streams listed; every other stream disconnects slow subscribers", () => {
    const policies = Object.fromEntries([...catalog.values()].map((s) => [s.name, s.policy]));
    expect(policies["events.weir.events.v1.Quote"]).toBe("conflate");
    expect(policies["results.risk-limits"]).toBe("conflate");
    for (const [name, p] of Object.entries(policies))
      if (name !== "events.weir.events.v1.Quote" && name !== "results.risk-limits") expect(p, name).toBe("disconnect");
  });

  it("refuses a raw stream of an unknown event type at startup", () => {
    expect(() => streamCatalog(registry, { jobs: [], rawTypes: ["acme.v1.Nope"], conflate: [] })).toThrow(/acme\.v1\.Nope/);
  });
});

describe("results and alerts: tenant-qualified keys", () => {
  const results = spec("results.fraud");
  const alerts = spec("alerts");

  it("gives the tenant, the key without the tenant prefix, and the kind from weir.stream", () => {
    expect(results.view("acme/card-7", { "weir.tenant": "acme", "weir.stream": "alerts", "weir.job": "fraud" })).toEqual({
      tenant: "acme",
      key: "card-7",
      kind: "alerts",
    });
    expect(alerts.view("acme/acct-1", { "weir.tenant": "acme", "weir.stream": "breaches" })).toEqual({ tenant: "acme", key: "acct-1", kind: "breaches" });
  });

  it("keeps everything after the first separator in the key", () => {
    expect(results.view("acme/host/with/slashes", { "weir.tenant": "acme" })).toEqual({ tenant: "acme", key: "host/with/slashes", kind: "" });
  });

  it.each([
    ["no weir.tenant header", "acme/card-7", {}],
    ["an unqualified (shared) key", "MSFT", { "weir.tenant": "acme" }],
    ["a key qualified with another tenant", "globex/card-7", { "weir.tenant": "acme" }],
    ["a header naming another tenant than the key", "acme/card-7", { "weir.tenant": "globex" }],
    ["an empty tenant in the key", "/card-7", { "weir.tenant": "" }],
  ])("delivers a record with %s to nobody", (_, key, headers) => {
    expect(results.view(key, headers)).toBeUndefined();
    expect(alerts.view(key, headers)).toBeUndefined();
  });
});

describe("raw events", () => {
  const quotes = spec("events.weir.events.v1.Quote");

  it("gives the tenant from weir.tenant, the partition key as is, and the event type as the kind", () => {
    expect(quotes.view("MSFT", { "weir.tenant": "acme", "weir.type": "weir.events.v1.Quote", "weir.id": "q-1" })).toEqual({
      tenant: "acme",
      key: "MSFT",
      kind: "weir.events.v1.Quote",
    });
  });

  it.each([
    ["no tenant", { "weir.type": "weir.events.v1.Quote" }],
    ["an empty tenant", { "weir.tenant": "", "weir.type": "weir.events.v1.Quote" }],
    ["no type", { "weir.tenant": "acme" }],
    ["another event type on the same topic", { "weir.tenant": "acme", "weir.type": "weir.events.v1.Trade" }],
  ])("delivers a record with %s to nobody", (_, headers) => {
    expect(quotes.view("MSFT", headers)).toBeUndefined();
  });
});
