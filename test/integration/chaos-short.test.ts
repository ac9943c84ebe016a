/**
 * The chaos suite's short form (the whole suite: `npm run chaos`): on the 3-broker stack with two
 * gateways, two processors and a client with a file outbox, the partition leader broker, a gateway
 * and a processor are SIGKILLed in turn while the stream flows. Nothing lost, nothing twice, every
 * final window exactly once, no consumer group stalled with records waiting for 30 s.
 */
import { expect, test } from "vitest";
import { SHORT_FAULTS } from "../chaos/faults.js";
import { formatReport, runChaos } from "../chaos/run-chaos.js";

test("chaos, short form: a broker, a gateway and a processor killed mid-stream", async () => {
  const report = await runChaos(SHORT_FAULTS, { rate: 150 });
  console.log(formatReport(report));
  expect(report.lost).toBe(0);
  expect(report.duplicated).toBe(0);
  expect(report.windowProblems).toEqual([]);
  for (const f of report.faults) expect(f.stalledMs, f.fault).toBeLessThan(30_000);
}, 600_000);
