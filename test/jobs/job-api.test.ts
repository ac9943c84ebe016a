/**
 * The public job API end to end in the JobTestDriver: jobs written as a user would (over the
 * built-in HttpAccessLog type), keyed differently from the producers' key, windowed, with a
 * pattern, with keyed state and with tables; options checked; state identity; restart.
 */
import { describe, expect, it } from "vitest";
import { HttpAccessLogSchema, InstrumentSchema, QuoteSchema, Side, TradeSchema, type HttpAccessLog } from "../../src/events.js";
import { AfterMatchSkip, Pattern, defineJob, keyedProcess, pattern, stream, table, tumbling, windowed, z, type WindowResult } from "../../src/jobs/index.js";
import { JobTestDriver } from "../../src/testing.js";
import { WeirError } from "../../src/errors.js";

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);
const log = (path: string, clientIp: string, status = 200) => ({ host: "web-1", method: "GET", path, status, clientIp });

/** Distinct client IPs per path per window: keyed by path, whatever the producers keyed by. */
const distinctVisitors = defineJob({
  name: "distinct-visitors",
  version: 1,
  options: z.strictObject({ windowMs: z.int().positive().default(300_000) }),
  inputs: { logs: stream(HttpAccessLogSchema, { key: (l) => l.path }) },
  idle: { afterMs: 10_000 },
  map: ({ value }) => value.clientIp,
  step: ({ options }) =>
    windowed({
      window: tumbling(options.windowMs),
      aggregate: {
        init: () => [] as string[],
        add: (ips: string[], ip: string) => (ips.includes(ip) ? ips : [...ips, ip].sort()),
        result: (ips: string[]) => ({ distinct: ips.length }),
      },
      maxOutOfOrdernessMs: 5_000,
    }),
});

/** Three failed requests (401) and then a success (200) from one client IP within a minute. */
const bruteForce = defineJob({
  name: "brute-force",
  version: 1,
  inputs: { logs: stream(HttpAccessLogSchema, { key: (l) => l.clientIp }) },
  filter: ({ value }) => value.status === 401 || value.status === 200,
  step: () =>
    pattern({
      pattern: Pattern.begin<HttpAccessLog>("failed")
        .where((l) => l.status === 401)
        .times(3)
        .next("ok")
        .where((l) => l.status === 200)
        .within(60_000)
        .afterMatch(AfterMatchSkip.skipPastLastEvent()),
      select: (m) => ({ clientIp: m.key, failures: m.events.failed!.length, atMs: m.endMs }),
    }),
  outputs: {
    matches: {
      alert: (v: { clientIp: string; atMs: number }) => ({
        id: `brute-force:${v.clientIp}:${v.atMs}`,
        kind: "brute-force",
        summary: `3 failures then a login from ${v.clientIp}`,
      }),
    },
  },
});

describe("a windowed job keyed differently from its producers", () => {
  it("counts distinct visitors per path per window, each path on the task of its own key", () => {
    const driver = JobTestDriver.create(distinctVisitors, { options: { windowMs: 60_000 } });
    // Producers key the logs by event id: the job re-keys them by path.
    const events = [log("/a", "1.1.1.1"), log("/a", "2.2.2.2"), log("/b", "1.1.1.1"), log("/a", "1.1.1.1"), log("/b", "3.3.3.3")];
    events.forEach((e, i) => driver.pipe("logs", e, { tenant: "acme", key: `evt-${i}`, timestampMs: T0 + i * 1000 }));
    driver.advanceWatermark(T0 + 120_000);
    const finals = driver
      .readOutput("results")
      .map((o) => ({ key: o.key, tenant: o.tenant, value: (o.value as WindowResult<{ distinct: number }>).result, partition: o.partition }));
    expect(finals.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: "acme//a", tenant: "acme", value: { distinct: 2 }, partition: driver.partitionOf("/a") },
      { key: "acme//b", tenant: "acme", value: { distinct: 2 }, partition: driver.partitionOf("/b") },
    ]);
  });

  it("keeps tenants apart: the same path of two tenants is two windows", () => {
    const driver = JobTestDriver.create(distinctVisitors);
    driver.pipe("logs", log("/a", "1.1.1.1"), { tenant: "acme", key: "e1", timestampMs: T0 });
    driver.pipe("logs", log("/a", "1.1.1.1"), { tenant: "globex", key: "e2", timestampMs: T0 });
    driver.advanceWatermark(T0 + 600_000);
    expect(
      driver
        .readOutput("results")
        .map((o) => o.tenant)
        .sort(),
    ).toEqual(["acme", "globex"]);
  });

  it("closes the last windows when input ends: idle partitions follow the wall clock", () => {
    const driver = JobTestDriver.create(distinctVisitors, { options: { windowMs: 60_000 } });
    driver.pipe("logs", log("/a", "1.1.1.1"), { key: "e1", timestampMs: T0 });
    driver.advanceWallClock(5_000);
    expect(driver.readOutput("results")).toEqual([]);
    driver.advanceWallClock(70_000);
    expect(driver.readOutput("results")).toHaveLength(1);
  });

  it("survives a restart: state comes back from the changelog and the window completes once", () => {
    const driver = JobTestDriver.create(distinctVisitors, { options: { windowMs: 60_000 } });
    driver.pipe("logs", log("/a", "1.1.1.1"), { key: "e1", timestampMs: T0 });
    driver.pipe("logs", log("/a", "2.2.2.2"), { key: "e2", timestampMs: T0 + 1 });
    driver.restart();
    driver.pipe("logs", log("/a", "3.3.3.3"), { key: "e3", timestampMs: T0 + 2 });
    driver.advanceWatermark(T0 + 600_000);
    expect(driver.readOutput("results").map((o) => (o.value as WindowResult<{ distinct: number }>).result)).toEqual([{ distinct: 3 }]);
  });

  it("refuses options that do not fit the job's schema, naming the field", () => {
    expect(() => JobTestDriver.create(distinctVisitors, { options: { windowMS: 1 } })).toThrow(/WEIR_JOB_OPTIONS\.distinct-visitors\.windowMS: unknown key/);
    expect(() => JobTestDriver.create(distinctVisitors, { options: { windowMs: "60s" } })).toThrow(/windowMs: expected number, got string/);
    expect(() => JobTestDriver.create(bruteForce, { options: { anything: 1 } })).toThrow(/takes no options/);
  });
});

describe("a pattern job", () => {
  it("alerts once per burst of failures followed by a success from one client IP", () => {
    const driver = JobTestDriver.create(bruteForce);
    const statuses = [401, 401, 200, 401, 401, 401, 404, 200, 200];
    statuses.forEach((status, i) => driver.pipe("logs", log("/login", "6.6.6.6", status), { key: `e${i}`, timestampMs: T0 + i * 1000 }));
    driver.pipe("logs", log("/login", "7.7.7.7", 200), { key: "other", timestampMs: T0 });
    // A pattern reads each key in event-time order (a per-key watermark): one client's requests
    // come in order, so the match comes with the success that completes it.
    const matches = driver.readOutput("matches");
    expect(matches.map((m) => m.value)).toEqual([{ clientIp: "test/6.6.6.6", failures: 3, atMs: T0 + 7000 }]);
    expect(driver.alerts().map((a) => a.alertId)).toEqual([`brute-force:test/6.6.6.6:${T0 + 7000}`]);
  });
});

describe("keyed state and tables", () => {
  const sectorCounts = defineJob({
    name: "sector-requests",
    version: 1,
    inputs: {
      logs: stream(HttpAccessLogSchema, { key: (l) => l.host }),
      instruments: table(InstrumentSchema, { key: (i) => i.symbol, scope: "tenant" }),
    },
    // The host name stands for a symbol here: each request counts for its instrument's sector.
    map: ({ value, input }, { tables }) => (input === "logs" ? (tables.instruments.get(value.host)?.sector ?? "unknown") : undefined),
    step: () =>
      keyedProcess<string, { sector: string; count: number }>({
        streams: ["counts"],
        process(record, ctx) {
          const counts = ctx.store<number>("counts");
          const count = (counts.get(record.value) ?? 0) + 1;
          counts.put(record.value, count);
          ctx.emit("counts", record.value, { sector: record.value, count }, record.timestampMs);
        },
      }),
  });

  it("looks up a tenant's own table and keeps per-tenant state", () => {
    const driver = JobTestDriver.create(sectorCounts, { partitions: 1 });
    driver.pipe("instruments", { symbol: "ACME", sector: "Tech", currency: "USD", contractMultiplier: 1 }, { tenant: "a", key: "ACME", timestampMs: T0 });
    driver.pipe("instruments", { symbol: "ACME", sector: "Energy", currency: "USD", contractMultiplier: 1 }, { tenant: "b", key: "ACME", timestampMs: T0 });
    for (const tenant of ["a", "a", "b"])
      driver.pipe("logs", { host: "ACME", method: "GET", path: "/", status: 200 }, { tenant, key: "x", timestampMs: T0 + 1 });
    expect(driver.readOutput("counts").map((o) => [o.key, o.value])).toEqual([
      ["a/Tech", { sector: "Tech", count: 1 }],
      ["a/Tech", { sector: "Tech", count: 2 }],
      ["b/Energy", { sector: "Energy", count: 1 }],
    ]);
    expect([...driver.store("counts").entries()]).toEqual([
      ["a/Tech", 2],
      ["b/Energy", 1],
    ]);
  });

  it("refuses a shared table's records from tenants that may not write it", () => {
    const shared = defineJob({
      ...sectorCounts,
      name: "sector-requests-shared",
      inputs: { ...sectorCounts.inputs, instruments: table(InstrumentSchema, { key: (i) => i.symbol, scope: "shared", writers: ["feed"] }) },
    });
    const driver = JobTestDriver.create(shared, { partitions: 1 });
    driver.pipe("instruments", { symbol: "ACME", sector: "Tech", currency: "USD", contractMultiplier: 1 }, { tenant: "feed", key: "ACME", timestampMs: T0 });
    driver.pipe(
      "instruments",
      { symbol: "ACME", sector: "Hacked", currency: "USD", contractMultiplier: 1 },
      { tenant: "mallory", key: "ACME", timestampMs: T0 },
    );
    driver.pipe("logs", { host: "ACME", method: "GET", path: "/", status: 200 }, { tenant: "a", key: "x", timestampMs: T0 + 1 });
    expect(driver.readOutput("rejected").map((o) => [o.key, (o.value as { reason: string }).reason])).toEqual([
      ["mallory/ACME", "tenant mallory may not write the shared table instruments"],
    ]);
    expect(driver.readOutput("counts").map((o) => o.key)).toEqual(["a/Tech"]);
  });
});

describe("a versioned table: lookups as of the record's event time", () => {
  const priced = defineJob({
    name: "priced-trades",
    version: 1,
    inputs: {
      trades: stream(TradeSchema, { key: (t) => t.accountId }),
      quotes: table(QuoteSchema, { key: (q) => q.symbol, scope: "shared", versioned: { historyMs: 3_600_000 } }),
    },
    map: ({ value, input, timestampMs }, { tables }) => {
      if (input !== "trades") return undefined;
      const quote = tables.quotes.asOf(value.symbol, timestampMs);
      return { tradeId: value.tradeId, mid: quote ? (quote.bid + quote.ask) / 2 : null };
    },
    step: () =>
      keyedProcess<{ tradeId: string; mid: number | null }, { tradeId: string; mid: number | null }>({
        streams: ["priced"],
        process: (record, ctx) => ctx.emit("priced", record.key, record.value, record.timestampMs),
      }),
  });

  it("prices each trade with the quote current at its event time, whatever arrived since", () => {
    const driver = JobTestDriver.create(priced, { partitions: 1 });
    const quote = (bid: number, at: number) =>
      driver.pipe("quotes", { symbol: "ACME", bid, ask: bid + 2, venue: "X" }, { tenant: "feed", key: "ACME", timestampMs: at });
    const trade = (id: string, at: number) =>
      driver.pipe(
        "trades",
        { tradeId: id, accountId: "a1", symbol: "ACME", side: Side.BUY, quantity: 1, price: 1 },
        { tenant: "acme", key: "a1", timestampMs: at },
      );
    quote(100, T0);
    quote(200, T0 + 10_000);
    trade("before-any", T0 - 1);
    trade("first", T0 + 5_000);
    trade("second", T0 + 10_000);
    quote(150, T0 + 7_000); // arrives late: versions are by event time
    trade("between", T0 + 8_000);
    expect(driver.readOutput("priced").map((o) => o.value)).toEqual([
      { tradeId: "before-any", mid: null },
      { tradeId: "first", mid: 101 },
      { tradeId: "second", mid: 201 },
      { tradeId: "between", mid: 151 },
    ]);
  });
});

describe("defining a job", () => {
  it("refuses a bad name, version or input set when the module loads", () => {
    const base = { version: 1, inputs: { logs: stream(HttpAccessLogSchema) }, step: () => keyedProcess<unknown, unknown>({ streams: [], process: () => {} }) };
    expect(() => defineJob({ ...base, name: "Bad Name" })).toThrow(/name must be/);
    expect(() => defineJob({ ...base, name: "ok", version: 0 })).toThrow(/version must be/);
    expect(() => defineJob({ ...base, name: "ok", inputs: { i: table(InstrumentSchema, { key: (i) => i.symbol, scope: "shared" }) } })).toThrow(
      /at least one stream input/,
    );
    expect(() => table(InstrumentSchema, { key: (i) => i.symbol, scope: "tenant", writers: ["x"] })).toThrow(/writers apply to shared tables only/);
  });

  it("refuses state written by another version of the job, unless it migrates", () => {
    const driver = JobTestDriver.create(bruteForce);
    expect(driver.runtime.checkIdentity({ name: "brute-force", version: 1 })).toBe("same");
    const error = (() => {
      try {
        driver.runtime.checkIdentity({ name: "brute-force", version: 2 });
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(WeirError);
    expect((error as WeirError).code).toBe("WEIR_ERR_JOB_STATE_VERSION");
    const v2 = JobTestDriver.create(defineJob({ ...bruteForce, version: 2, migrate: (_from, entry) => entry }));
    expect(v2.runtime.checkIdentity({ name: "brute-force", version: 1 })).toBe("migrate");
  });
});
