/**
 * The arithmetic of the Node k6 shim's end of test: durations, thresholds, metric statistics
 * (k6's percentile interpolation) and the k6-like text summary. No I/O.
 */
import { shim, type Metric } from "./runtime.js";

/** Options the shim cannot honour (k6 exits 104 for invalid options). */
export class ConfigError extends Error {}

/** k6 duration: "1h2m3.5s", "250ms", or a number of milliseconds. */
export function parseDuration(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  if (typeof v !== "string") throw new ConfigError(`${what}: not a duration: ${String(v)}`);
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|s|m|h)/g;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001 };
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    total += parseFloat(m[1]!) * units[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== v.length) throw new ConfigError(`${what}: not a duration: "${v}"`);
  return total;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const strip = (n: number) => String(Number(n.toFixed(2)));
  if (Math.abs(ms) < 1) return `${strip(ms * 1000)}µs`;
  if (Math.abs(ms) < 1000) return `${strip(ms)}ms`;
  if (Math.abs(ms) < 60_000) return `${strip(ms / 1000)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${strip((ms - m * 60_000) / 1000)}s`;
}

export type Aggregation = { name: string; percentile?: number };
export type Threshold = { metric: string; source: string; agg: Aggregation; op: string; value: number; abortOnFail: boolean };

export const AGGREGATIONS: Record<Metric["type"], RegExp> = {
  trend: /^(avg|min|max|med|p\(\d+(\.\d+)?\))$/,
  counter: /^(count|rate)$/,
  rate: /^rate$/,
  gauge: /^(value|min|max)$/,
};

export function parseThresholds(raw: unknown): Threshold[] {
  if (raw === undefined) return [];
  if (typeof raw !== "object" || raw === null) throw new ConfigError("options.thresholds must be an object");
  const out: Threshold[] = [];
  for (const [metric, list] of Object.entries(raw as Record<string, unknown>)) {
    if (metric.includes("{")) throw new ConfigError(`threshold on "${metric}": sub-metric (tag) thresholds are not supported by the Node k6 shim`);
    for (const item of Array.isArray(list) ? list : [list]) {
      const obj = typeof item === "string" ? { threshold: item } : (item as { threshold?: unknown; abortOnFail?: unknown });
      const source = String(obj.threshold);
      const m = /^\s*(avg|min|max|med|count|rate|value|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(source);
      if (!m) throw new ConfigError(`threshold "${source}" on ${metric}: cannot parse`);
      const agg: Aggregation = m[2] !== undefined ? { name: m[1]!, percentile: parseFloat(m[2]) } : { name: m[1]! };
      const abortOnFail = Boolean(obj.abortOnFail);
      if (abortOnFail)
        shim().log("WARN", `threshold "${source}" on ${metric}: abortOnFail is not supported by the Node k6 shim; it is evaluated at the end only`);
      out.push({ metric, source, agg, op: m[3]!, value: parseFloat(m[4]!), abortOnFail });
    }
  }
  return out;
}

/** k6's TrendSink percentile: linear interpolation between the closest ranks. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  if (sorted.length === 1) return sorted[0]!;
  const i = p * (sorted.length - 1);
  const lo = sorted[Math.floor(i)]!;
  const hi = sorted[Math.ceil(i)]!;
  return lo + (hi - lo) * (i - Math.floor(i));
}

export type Values = Record<string, number>;

export function valuesOf(m: Metric, durationS: number, trendStats: readonly string[], extra: readonly Aggregation[]): Values {
  switch (m.type) {
    case "counter":
      return { count: m.sum, rate: durationS > 0 ? m.sum / durationS : 0 };
    case "gauge":
      return { value: m.last, min: m.count ? m.min : 0, max: m.count ? m.max : 0 };
    case "rate":
      return { rate: m.count ? m.nonZero / m.count : 0, passes: m.nonZero, fails: m.count - m.nonZero };
    case "trend": {
      const sorted = Float64Array.from(m.samples).sort();
      const stat = (name: string): number => {
        if (m.count === 0) return 0;
        if (name === "avg") return m.sum / m.count;
        if (name === "min") return m.min;
        if (name === "max") return m.max;
        if (name === "med") return percentile(sorted, 0.5);
        if (name === "count") return m.count;
        const p = /^p\((\d+(?:\.\d+)?)\)$/.exec(name);
        if (p) return percentile(sorted, parseFloat(p[1]!) / 100);
        throw new ConfigError(`unknown trend statistic "${name}"`);
      };
      const out: Values = {};
      for (const s of trendStats) out[s] = stat(s);
      for (const a of extra) {
        const key = a.percentile !== undefined ? `p(${a.percentile})` : a.name;
        out[key] = stat(key);
      }
      return out;
    }
  }
}

export function compare(actual: number, op: string, expected: number): boolean {
  switch (op) {
    case "<":
      return actual < expected;
    case "<=":
      return actual <= expected;
    case ">":
      return actual > expected;
    case ">=":
      return actual >= expected;
    case "==":
    case "===":
      return actual === expected;
    case "!=":
      return actual !== expected;
  }
  return false;
}

export type ThresholdResult = Threshold & { actual: number; ok: boolean };

export function formatValue(m: Metric, v: number): string {
  if (m.contains === "time") return formatDuration(v);
  if (m.contains === "data") return formatBytes(v);
  return String(Number(v.toFixed(6)));
}

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toFixed(i === 0 ? 0 : 1))} ${units[i]}`;
}

export function metricLine(m: Metric, values: Values, trendStats: readonly string[]): string {
  switch (m.type) {
    case "counter":
      return m.contains === "data"
        ? `${formatBytes(values["count"]!).padEnd(9)} ${formatBytes(values["rate"]!)}/s`
        : `${formatValue(m, values["count"]!).padEnd(9)} ${Number(values["rate"]!.toFixed(values["rate"]! < 10 ? 6 : 2))}/s`;
    case "gauge":
      return `${formatValue(m, values["value"]!)} min=${formatValue(m, values["min"]!)} max=${formatValue(m, values["max"]!)}`;
    case "rate":
      return `${(values["rate"]! * 100).toFixed(2)}%`.padEnd(8) + ` ✓ ${values["passes"]}`.padEnd(12) + ` ✗ ${values["fails"]}`;
    case "trend":
      return trendStats.map((s) => `${s}=${formatValue(m, values[s]!)}`).join(" ");
  }
}

/** What the summary needs of a scenario run. */
export type ScenarioSummary = {
  scenario: { name: string; vus: number; durationMs: number; gracefulStopMs: number; startTimeMs: number; exec: string };
  completed: number;
  interrupted: number;
};

export function textSummary(p: {
  scenarios: ScenarioSummary[];
  metrics: Metric[];
  values: Map<string, Values>;
  thresholds: ThresholdResult[];
  trendStats: readonly string[];
  durationMs: number;
  maxVus: number;
}): string {
  const out: string[] = [];
  out.push("", "  Node k6 shim (load/k6/node-shim) — NOT k6: a compatibility layer; see load/README.md", "");
  const maxDur = Math.max(...p.scenarios.map((s) => s.scenario.startTimeMs + s.scenario.durationMs + s.scenario.gracefulStopMs));
  out.push(`     scenarios: ${p.scenarios.length} scenario(s), ${p.maxVus} max VUs, ${formatDuration(maxDur)} max duration (incl. graceful stop):`);
  for (const s of p.scenarios) {
    out.push(
      `              * ${s.scenario.name}: ${s.scenario.vus} looping VUs for ${formatDuration(s.scenario.durationMs)} (exec: ${s.scenario.exec}, gracefulStop: ${formatDuration(s.scenario.gracefulStopMs)})`,
    );
  }
  out.push("");
  const checks = [...shim().checks.values()];
  for (const c of checks) {
    if (c.fails === 0) out.push(`     ✓ ${c.name}`);
    else {
      const pct = Math.floor((100 * c.passes) / (c.passes + c.fails));
      out.push(`     ✗ ${c.name}`, `      ↳  ${pct}% — ✓ ${c.passes} / ✗ ${c.fails}`);
    }
  }
  if (checks.length) out.push("");
  if (p.thresholds.length) {
    out.push("     THRESHOLDS");
    for (const t of p.thresholds) {
      const m = p.metrics.find((x) => x.name === t.metric)!;
      const key = t.agg.percentile !== undefined ? `p(${t.agg.percentile})` : t.agg.name;
      out.push(`     ${t.ok ? "✓" : "✗"} ${t.metric} '${t.source}' ${key}=${formatValue(m, t.actual)}`);
    }
    out.push("");
  }
  for (const m of [...p.metrics].sort((a, b) => a.name.localeCompare(b.name))) {
    const ts = p.thresholds.filter((t) => t.metric === m.name);
    const mark = ts.length === 0 ? " " : ts.every((t) => t.ok) ? "✓" : "✗";
    out.push(`   ${mark} ${m.name.padEnd(31, ".")}: ${metricLine(m, p.values.get(m.name)!, p.trendStats)}`);
  }
  const completed = p.scenarios.reduce((n, s) => n + s.completed, 0);
  const interrupted = p.scenarios.reduce((n, s) => n + s.interrupted, 0);
  out.push("", `running (${formatDuration(p.durationMs)}), 0/${p.maxVus} VUs, ${completed} complete and ${interrupted} interrupted iterations`, "");
  return out.join("\n");
}
