/**
 * The Node k6 shim (load/k6/node-shim): the end-of-test arithmetic, and the run semantics it
 * claims to share with k6, on a fixture script that needs no network.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { Metric } from "../../load/k6/node-shim/runtime.js";
import { ConfigError, compare, formatDuration, parseDuration, parseThresholds, percentile, valuesOf } from "../../load/k6/node-shim/summary.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** The parts of the shim's JSON summary these tests read. */
type Summary = {
  scenarios: Record<string, { completedIterations: number; interruptedIterations: number }>;
  root_group: { checks: Array<{ name: string; passes: number; fails: number }> };
  metrics: Record<string, { values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
  thresholdsOk: boolean;
};

describe("summary arithmetic", () => {
  test("durations", () => {
    expect(parseDuration("4s", "d")).toBe(4000);
    expect(parseDuration("1h2m3.5s", "d")).toBe(3_723_500);
    expect(parseDuration("250ms", "d")).toBe(250);
    expect(parseDuration(1500, "d")).toBe(1500);
    expect(() => parseDuration("4 s", "d")).toThrow(ConfigError);
    expect(() => parseDuration("soon", "d")).toThrow(ConfigError);
    expect(formatDuration(0.5)).toBe("500µs");
    expect(formatDuration(12.345)).toBe("12.35ms");
    expect(formatDuration(4032)).toBe("4.03s");
    expect(formatDuration(90_000)).toBe("1m30s");
  });

  test("percentiles interpolate between ranks as k6's TrendSink does", () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 10]);
    expect(percentile(sorted, 0.5)).toBe(3);
    expect(percentile(sorted, 0.9)).toBeCloseTo(7.6); // i = 3.6: 4 + (10 - 4) * 0.6
    expect(percentile(sorted, 1)).toBe(10);
    expect(percentile(Float64Array.from([7]), 0.99)).toBe(7);
    expect(percentile(new Float64Array(0), 0.99)).toBe(0);
  });

  test("statistics per metric type", () => {
    const trend = new Metric("t", "trend", "time");
    for (const v of [5, 1, 3]) trend.add(v);
    expect(valuesOf(trend, 2, ["avg", "min", "med", "max"], [{ name: "p", percentile: 99 }])).toEqual({ avg: 3, min: 1, med: 3, max: 5, "p(99)": 4.96 });
    const counter = new Metric("c", "counter", "default");
    counter.add(3);
    counter.add(5);
    expect(valuesOf(counter, 2, [], [])).toEqual({ count: 8, rate: 4 });
    const rate = new Metric("r", "rate", "default");
    for (const v of [1, 0, 0, 0]) rate.add(v);
    expect(valuesOf(rate, 2, [], [])).toEqual({ rate: 0.25, passes: 1, fails: 3 });
    // No samples: k6's Trend sink reports zeros, so "p(99)<50" passes on an empty trend.
    expect(valuesOf(new Metric("e", "trend", "time"), 1, ["max"], [{ name: "p", percentile: 99 }])).toEqual({ max: 0, "p(99)": 0 });
  });

  test("thresholds", () => {
    const ts = parseThresholds({ a: ["p(99)<50", "avg <= 10"], b: [{ threshold: "rate<0.01" }], c: "count>0" });
    expect(ts.map((t) => [t.metric, t.agg, t.op, t.value])).toEqual([
      ["a", { name: "p(99)", percentile: 99 }, "<", 50],
      ["a", { name: "avg" }, "<=", 10],
      ["b", { name: "rate" }, "<", 0.01],
      ["c", { name: "count" }, ">", 0],
    ]);
    expect(() => parseThresholds({ "a{tag:x}": ["avg<1"] })).toThrow(ConfigError);
    expect(() => parseThresholds({ a: ["p99 < 1"] })).toThrow(ConfigError);
    expect(compare(49.9, "<", 50)).toBe(true);
    expect(compare(50, "<", 50)).toBe(false);
    expect(compare(0, "==", 0)).toBe(true);
  });
});

describe("running a script", () => {
  const dir = mkdtempSync(join(tmpdir(), "weir-k6-shim-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runShim(script: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string; summary: Summary | undefined }> {
    const summaryFile = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "load/k6/node-shim/run.ts", ...args, "--summary-json", summaryFile, script],
        { cwd: root, timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: number }).code ?? 1) : 0;
          let summary: Summary | undefined;
          try {
            summary = JSON.parse(readFileSync(summaryFile, "utf8")) as Summary;
          } catch {
            summary = undefined;
          }
          resolve({ code, stdout, stderr, summary });
        },
      );
    });
  }

  test("per-VU modules, timers keep iterations alive, gracefulStop interrupts, failed threshold exits 99", async () => {
    const started = Date.now();
    const r = await runShim("test/load/fixtures/shim-semantics.js", ["-e", "FIXTURE_GLOBAL=yes"]);
    expect(r.code, r.stderr + r.stdout).toBe(99);
    // The stuck iteration (a 60 s timer) was interrupted after duration + gracefulStop.
    expect(Date.now() - started).toBeLessThan(20_000);
    const s = r.summary!;
    expect(s.scenarios["stuck"]).toMatchObject({ completedIterations: 0, interruptedIterations: 1 });
    expect(s.scenarios["short"]!.completedIterations).toBeGreaterThanOrEqual(4);
    expect(s.scenarios["short"]!.interruptedIterations).toBe(0);
    for (const c of s.root_group.checks) expect(c, c.name).toMatchObject({ fails: 0 });
    expect(s.root_group.checks).toHaveLength(4);
    // Each completed iteration waited for its two nested timers (30 + 20 ms).
    expect(s.metrics["fixture_ticks"]!.values.count).toBe(s.scenarios["short"]!.completedIterations);
    expect(s.metrics["fixture_wait"]!.values.min).toBeGreaterThanOrEqual(45);
    expect(s.metrics["iteration_duration"]!.values.min).toBeGreaterThanOrEqual(45);
    expect(s.metrics["fixture_ticks"]!.thresholds).toEqual({ "count>0": { ok: true } });
    expect(s.metrics["fixture_wait"]!.thresholds).toEqual({ "p(50)<0": { ok: false } });
    expect(s.metrics["fixture_odd"]!.thresholds).toEqual({ "rate<=1": { ok: true } });
    expect(s.thresholdsOk).toBe(false);
    expect(r.stdout).toContain("NOT k6");
  });

  test("k6 modules the shim lacks are refused by name", async () => {
    const script = join(dir, "http.js");
    writeFileSync(script, 'import http from "k6/http";\nexport default function () { http.get("http://x"); }\n');
    const r = await runShim(script);
    expect(r.code).toBe(107);
    expect(r.stderr).toContain('module "k6/http" is not implemented by the Node k6 shim');
  });
});
