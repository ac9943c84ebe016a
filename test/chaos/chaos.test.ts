/**
 * `npm run chaos`: every fault of the suite, CHAOS_RUNS times (default 3), each run on a fresh
 * world. Done when: 0 lost, 0 duplicated, every final window exactly once, no consumer group of the
 * job stalled with records waiting for 30 s or more, in every run. The figures go to
 * RELIABILITY.md (printed as a Markdown table per run). CHAOS_STATE_ON_DISK=1 runs the processors
 * with their state on disk (WEIR_STATE_DIR, one directory each).
 */
import { expect, test } from "vitest";
import { FAULTS } from "./faults.js";
import { formatReport, runChaos } from "./run-chaos.js";

const runs = Number(process.env.CHAOS_RUNS ?? 3);
const only = process.env.CHAOS_FAULTS;
const faults = only ? FAULTS.filter((f) => only.split(",").some((o) => f.name.includes(o))) : FAULTS;

for (let run = 1; run <= runs; run++) {
  test(`chaos run ${run} of ${runs}: ${faults.length} faults while the stream flows`, async () => {
    const report = await runChaos(faults);
    console.log(`chaos run ${run}\n${formatReport(report)}`);
    expect(report.lost).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.windowProblems).toEqual([]);
    for (const f of report.faults) expect(f.stalledMs, f.fault).toBeLessThan(30_000);
  });
}
