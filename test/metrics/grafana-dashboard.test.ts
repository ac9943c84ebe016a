/** The Grafana dashboard in the repo only queries metrics Weir exports (a renamed metric fails here). */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { WeirMetrics } from "../../src/metrics/prometheus.js";

const dashboard = JSON.parse(readFileSync(new URL("../../docs/grafana/weir-dashboard.json", import.meta.url), "utf8")) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};

test("every metric a panel queries is registered", () => {
  const metrics = new WeirMetrics({
    inFlightEvents: () => 0,
    inFlightBytes: () => 0,
    outstandingCredit: () => 0,
    connections: () => ({ ingest: 0, subscribe: 0 }),
    subscribers: () => new Map(),
  });
  const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/weir_[a-z_]+/g) ?? [])));
  expect(used.size).toBeGreaterThan(10);
  for (const name of used) {
    const base = name.replace(/_(bucket|count|sum)$/, "");
    expect(metrics.registry.getSingleMetric(base), `${name} in the dashboard`).toBeDefined();
  }
});
