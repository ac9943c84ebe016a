/**
 * The README's "Write your own job" example: a job over a user-defined type (acme.v1.PageView,
 * from a schema image built of examples/acme/proto) tested with the JobTestDriver, as a user
 * would test theirs.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildSchemaImage } from "../../src/schema/build-image.js";
import type { SchemaRegistry } from "../../src/schema/registry.js";
import { JobTestDriver } from "../../src/testing.js";
import pageStats from "../../examples/acme/jobs/page-stats.js";

const T0 = Date.UTC(2026, 11, 6, 9, 0, 0);
let registry: SchemaRegistry;
beforeAll(() => {
  registry = buildSchemaImage({ protoDir: "examples/acme/proto", out: join(mkdtempSync(join(tmpdir(), "weir-acme-")), "acme.binpb") });
});

describe("page-stats over acme.v1.PageView", () => {
  it("counts views and distinct visitors per page per window, keyed by page though producers key by user", () => {
    const driver = JobTestDriver.create(pageStats, { registry, options: { windowMs: 60_000 } });
    const views = [
      ["/pricing", "ann"],
      ["/pricing", "bob"],
      ["/docs", "ann"],
      ["/pricing", "ann"],
      ["/docs", "cid"],
    ] as const;
    views.forEach(([page, user], i) => driver.pipe("views", { page, user }, { tenant: "acme", key: user, timestampMs: T0 + i * 1000 }));
    // The input ends: once the sources have been idle for 30 s, the windows close.
    driver.advanceWallClock(120_000);
    const results = driver
      .readOutput("results")
      .map((o) => [o.key, (o.value as { kind: string; result: unknown }).kind, (o.value as { result: unknown }).result]);
    expect(results.sort()).toEqual([
      ["acme//docs", "final", { views: 2, visitors: 2, capped: false }],
      ["acme//pricing", "final", { views: 3, visitors: 2, capped: false }],
    ]);
  });

  it("refuses options with a misspelt key", () => {
    expect(() => JobTestDriver.create(pageStats, { registry, options: { windowMS: 60_000 } })).toThrow(/WEIR_JOB_OPTIONS\.page-stats\.windowMS: unknown key/);
  });
});
