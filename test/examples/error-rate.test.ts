/**
 * The error-rate example job (examples/jobs/error-rate.ts) end to end in the JobTestDriver: 5xx
 * responses per host per minute, 1-minute tumbling windows, 5 s of tolerated disorder, late
 * corrections within 60 s re-emitted as updates, anything later on the "late" output.
 *
 * The job is keyed by host, so its records go through the repartition step and its windows follow
 * the source partitions' progress (the lowest of them, less 5 s), not the records a task sees.
 * Every task waits to hear from all 6 partitions of weir.events.http-access-log, so each case
 * first lets them all go idle (30 s of wall clock with no lines, the job's idle time); a partition
 * that then gets lines counts again. Most cases feed every line from one producer key — one source
 * partition, the only active one — so event time follows the lines as they arrive, as the
 * engine-level job did; the multi-source cases show where that differs.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import errorRate, { type ErrorRateCounts } from "weir/examples/jobs/error-rate";
import { HttpAccessLogSchema } from "weir/events";
import { JobTestDriver, type DriverOutput } from "weir/testing";
import type { WindowedOutput } from "weir/jobs";

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
/** Event time at minute `m`, second `s` after T0. */
const t = (m: number, s: number) => T0 + m * 60_000 + s * 1_000;
const API = "api.example.com";
const WEB = "web.example.com";
const TENANT = "acme";
/** The job's idle time: a source partition without lines for this long (wall clock) stops holding event time back. */
const IDLE_MS = 30_000;
/** The producer key every line is published under in the single-source cases: one source partition. */
const EDGE = "edge-0";

type Line = { host: string; status: number };
type Out = Pick<DriverOutput, "stream" | "key" | "timestampMs"> & { value: WindowedOutput<Line, ErrorRateCounts> };

function counts(kind: "final" | "update", host: string, minute: number, errors: number, requests: number): Out {
  const windowStartMs = t(minute, 0);
  const windowEndMs = t(minute + 1, 0);
  const key = `${TENANT}/${host}`;
  return { stream: "results", key, value: { kind, key, windowStartMs, windowEndMs, result: { errors, requests } }, timestampMs: windowEndMs - 1 };
}

/** Outputs as compared here: without the tenant and task, ordered by key (tasks emit in partition order), then as emitted. */
function plain(outputs: readonly DriverOutput[]): Out[] {
  return outputs
    .map(({ stream, key, value, timestampMs }) => ({ stream, key, value: value as Out["value"], timestampMs }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A driver for the job; by default every source partition has gone idle before the first line (`sourcesIdle`). */
function run(options?: Record<string, unknown>, { sourcesIdle = true } = {}) {
  const driver = JobTestDriver.create(errorRate, options ? { options } : {});
  // As a while after the job starts with nothing on the topic: the partitions these cases leave
  // empty no longer hold event time back; the ones they publish on are active from their first line.
  if (sourcesIdle) driver.advanceWallClock(IDLE_MS);
  /** Pipes one line (published under `producerKey`) and returns what it caused. */
  const line = (host: string, status: number, timestampMs: number, producerKey = EDGE): Out[] => {
    driver.pipe("logs", { host, method: "GET", path: "/", status }, { tenant: TENANT, key: producerKey, timestampMs });
    return plain(driver.readOutput());
  };
  return { driver, line };
}

/** The scenario's lines, out of order, over two hosts and three minutes: [host, status, time]. */
const SCENARIO: ReadonlyArray<readonly [string, number, number]> = [
  [API, 200, t(0, 2)],
  [API, 503, t(0, 5)],
  [WEB, 500, t(0, 7)],
  [API, 502, t(0, 4)],
  [WEB, 200, t(0, 30)],
  [API, 500, t(0, 58)],
  [WEB, 504, t(1, 1)],
  [API, 500, t(0, 59)],
  [API, 200, t(1, 3)],
  [WEB, 503, t(0, 57)],
  [API, 500, t(1, 6)],
  [WEB, 500, t(0, 50)],
  [WEB, 502, t(1, 30)],
  [API, 200, t(1, 45)],
  [WEB, 200, t(2, 10)],
  [API, 500, t(0, 40)],
  [API, 503, t(1, 59)],
];

describe("error-rate example job: 5xx per host per minute", () => {
  it("defaults: 1-minute windows, 5 s disorder, 60 s lateness, results only when the watermark passes a window", () => {
    const { driver, line } = run();
    expect(driver.runtime.options).toEqual({ windowMs: 60_000, maxOutOfOrdernessMs: 5_000, allowedLatenessMs: 60_000 });
    expect(driver.runtime.repartition).toBe(true);
    expect(driver.runtime.idleAfterMs).toBe(IDLE_MS);
    expect(line(API, 500, t(0, 10))).toEqual([]);
    expect(line(API, 200, t(1, 4))).toEqual([]); // watermark 0:59: minute 0 still open, nothing early
    expect(line(API, 200, t(1, 5))).toEqual([counts("final", API, 0, 1, 1)]); // watermark 1:00
    expect(line(API, 200, t(2, 0))).toEqual([]); // watermark 1:55
    expect(line(API, 503, t(0, 30))).toEqual([counts("update", API, 0, 2, 2)]); // minute 0 + 60 s lateness = 2:00 > 1:55
    expect(line(API, 200, t(2, 6))).toEqual([counts("final", API, 1, 0, 2)]); // watermark 2:01: minute 0 expires
    expect(line(API, 503, t(0, 31)).map((o) => o.stream)).toEqual(["late"]);
  });

  it("counts out-of-order lines across two hosts and two minutes exactly", () => {
    const { driver, line } = run();
    const outputs = SCENARIO.map(([host, status, at]) => line(host, status, at));
    expect(outputs.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => []));
    // (WEB 0:57 came behind the watermark, 0:58, but minute 0 was still open: it counts.)
    // API 1:06 moves the watermark to 1:01, which closes minute 0.
    expect(outputs[10]).toEqual([counts("final", API, 0, 4, 5), counts("final", WEB, 0, 2, 3)]);
    // Within the 60 s lateness: a corrected count.
    expect(outputs[11]).toEqual([counts("update", WEB, 0, 3, 4)]);
    expect(outputs.slice(12, 14)).toEqual([[], []]);
    // WEB 2:10: watermark 2:05 closes minute 1 and expires minute 0.
    expect(outputs[14]).toEqual([counts("final", API, 1, 1, 3), counts("final", WEB, 1, 2, 2)]);
    // Minute 0 is past its lateness: the line goes to the late output, as the job mapped it.
    expect(outputs[15]).toEqual([
      {
        stream: "late",
        key: `${TENANT}/${API}`,
        value: { kind: "late", key: `${TENANT}/${API}`, value: { host: API, status: 500 }, timestampMs: t(0, 40), watermarkMs: t(2, 5) },
        timestampMs: t(0, 40),
      },
    ]);
    expect(outputs[16]).toEqual([counts("update", API, 1, 2, 4)]);
    driver.advanceWatermark(t(3, 0));
    expect(plain(driver.readOutput())).toEqual([counts("final", WEB, 2, 0, 1)]);
    expect(driver.readAll("late")).toHaveLength(1);
    driver.advanceWatermark(t(4, 0));
    expect(driver.readOutput()).toEqual([]);
    for (let p = 0; p < driver.partitions; p++) expect(driver.store("windows", p).size, `task ${p}`).toBe(0);

    // The latest result per host and minute: the 5xx counts.
    const latest = new Map<string, number>();
    for (const r of plain(driver.readAll("results"))) {
      if (r.value.kind !== "late") latest.set(`${r.key} ${(r.value.windowStartMs - T0) / 60_000}`, r.value.result.errors);
    }
    expect(Object.fromEntries(latest)).toEqual({
      [`${TENANT}/${API} 0`]: 4,
      [`${TENANT}/${WEB} 0`]: 3,
      [`${TENANT}/${API} 1`]: 2,
      [`${TENANT}/${WEB} 1`]: 2,
      [`${TENANT}/${WEB} 2`]: 0,
    });
  });

  it("restores from the changelog at any point and continues identically", () => {
    const play = (restartAt: number) => {
      const { driver, line } = run();
      SCENARIO.forEach(([host, status, at], i) => {
        if (i === restartAt) driver.restart();
        line(host, status, at);
      });
      driver.advanceWatermark(t(4, 0));
      return plain(driver.readAll());
    };
    const full = play(-1);
    expect(full.filter((o) => o.stream === "results")).toHaveLength(7);
    for (let split = 0; split <= SCENARIO.length; split++) expect(play(split), `restart before line ${split}`).toEqual(full);
  });

  it("keys by host whatever the producers keyed by, and keeps only host and status of a line", () => {
    const { driver } = run();
    const log = create(HttpAccessLogSchema, { host: API, method: "POST", path: "/checkout", status: 503, bytesSent: 12n, clientIp: "10.0.0.1" });
    driver.pipe("logs", log, { tenant: TENANT, key: "evt-1", timestampMs: t(0, 1) });
    driver.advanceWatermark(t(3, 0)); // minute 0 closes, then expires
    const [result] = driver.readOutput("results");
    expect(result).toMatchObject({ key: `${TENANT}/${API}`, tenant: TENANT, partition: driver.partitionOf(API) });
    driver.pipe("logs", log, { tenant: TENANT, key: "evt-2", timestampMs: t(0, 2) });
    expect(driver.readOutput("late").map((o) => (o.value as { value: unknown }).value)).toEqual([{ host: API, status: 503 }]);
  });

  it("5xx means 500 to 599", () => {
    const { driver, line } = run();
    for (const [i, status] of [499, 500, 503, 599, 600, 200].entries()) line(API, status, t(0, i));
    driver.advanceWatermark(t(1, 0));
    expect(plain(driver.readOutput())).toEqual([counts("final", API, 0, 3, 6)]);
  });

  it("windows of another length when the options say so", () => {
    const { driver, line } = run({ windowMs: 10_000, maxOutOfOrdernessMs: 0 });
    line(API, 500, t(0, 1));
    expect(line(API, 200, t(0, 10)).map((o) => o.value)).toEqual([
      { kind: "final", key: `${TENANT}/${API}`, windowStartMs: t(0, 0), windowEndMs: t(0, 10), result: { errors: 1, requests: 1 } },
    ]);
    expect(driver.runtime.options).toEqual({ windowMs: 10_000, maxOutOfOrdernessMs: 0, allowedLatenessMs: 60_000 });
  });
});

describe("error-rate example job: event time from several source partitions", () => {
  /** Producer keys on two different source partitions (the topic's, as the repartition step reads them). */
  const EDGE_A = "edge-1";
  const EDGE_B = "edge-2";

  it("a source partition not heard from yet holds the windows back until it has been idle for the idle time", () => {
    const { driver, line } = run(undefined, { sourcesIdle: false });
    expect(line(API, 500, t(0, 10))).toEqual([]);
    // By EDGE's lines alone minute 0 would close here (2:10 less 5 s): the five partitions without lines hold it.
    expect(line(API, 200, t(2, 10))).toEqual([]);
    driver.advanceWallClock(IDLE_MS - 10_000);
    expect(line(API, 200, t(2, 20))).toEqual([]);
    driver.advanceWallClock(10_000); // the five have had nothing for 30 s; EDGE had a line 10 s ago and stays active
    expect(plain(driver.readOutput())).toEqual([counts("final", API, 0, 1, 1)]);
  });

  it("a source that is behind holds the windows open, and its lines are not late", () => {
    const { driver, line } = run();
    expect(driver.partitionOf(EDGE_A)).not.toBe(driver.partitionOf(EDGE_B));
    line(API, 500, t(0, 10), EDGE_A);
    line(WEB, 500, t(0, 10), EDGE_B);
    // API's source runs minutes ahead: with one source its watermark would close minutes 0 and 1.
    for (const s of [20, 70, 130, 180]) expect(line(API, 200, T0 + s * 1_000, EDGE_A)).toEqual([]);
    // WEB's source is still in minute 0: its line there counts (by one watermark over everything
    // the task saw, 2:55, it would have been late).
    expect(line(WEB, 503, t(0, 30), EDGE_B)).toEqual([]);
    // WEB's source reaches 1:10: the lowest source less 5 s is 1:05, minute 0 closes for both hosts.
    expect(line(WEB, 200, t(1, 10), EDGE_B)).toEqual([counts("final", API, 0, 1, 2), counts("final", WEB, 0, 2, 2)]);
  });

  it("a source with no records for the idle time (30 s of wall clock) no longer holds the others back", () => {
    // From the job's start: the four partitions without lines hold event time back until they are idle too.
    const { driver, line } = run(undefined, { sourcesIdle: false });
    line(API, 500, t(0, 10), EDGE_A);
    line(WEB, 500, t(0, 10), EDGE_B);
    driver.advanceWallClock(20_000);
    expect(line(API, 200, t(2, 10), EDGE_A)).toEqual([]);
    driver.advanceWallClock(10_000); // EDGE_B and the four empty partitions have been quiet for 30 s, EDGE_A for 10 s
    expect(plain(driver.readOutput())).toEqual([counts("final", API, 0, 1, 1), counts("final", WEB, 0, 1, 1)]);
    // When a quiet source sends again, it counts again: minute 2 waits for it.
    line(WEB, 200, t(2, 20), EDGE_B);
    expect(line(API, 200, t(3, 30), EDGE_A)).toEqual([]);
    expect(line(WEB, 200, t(3, 10), EDGE_B)).toEqual([counts("final", API, 2, 0, 1), counts("final", WEB, 2, 0, 1)]);
  });
});
