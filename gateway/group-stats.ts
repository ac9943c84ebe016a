/**
 * /v1/stats of a gateway that runs as several processes (decision 0022): one answer for the
 * group. Counts and levels add up across processes; latencies, uptime and the clock are the
 * largest of them (a percentile cannot be summed, and the slowest process is the one to see);
 * names, states and lists (the processor jobs, which run in the first process) are the first's.
 */
const LARGEST = new Set(["uptimeMs", "nowMs", "p50", "p99", "p999"]);

export function mergeStats(all: readonly unknown[]): unknown {
  if (all.length === 0) return {};
  return merge(all, "");
}

function merge(values: readonly unknown[], key: string): unknown {
  const [first] = values;
  if (typeof first === "number") {
    const numbers = values.filter((v): v is number => typeof v === "number");
    return LARGEST.has(key) ? Math.max(...numbers) : numbers.reduce((a, b) => a + b, 0);
  }
  if (first && typeof first === "object" && !Array.isArray(first)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(first))
      out[k] = merge(
        values.map((v) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined)),
        k,
      );
    return out;
  }
  return first;
}
