/**
 * The processor runtime end to end: access logs through a real gateway into Kafka, the
 * error-rate job in a Processor (consumer group, engine on worker threads, Kafka transactions),
 * and its results read back read_committed: every final 1-minute window of every host exactly
 * once, with the counts computed here from what was sent.
 *
 * Across three processors of one group, one after the other, with state on disk and in memory
 * (decision 0026): the first keeps its tasks' state on disk; the second, in memory, goes on from
 * the changelog; the third opens the first one's local copy again, which is now behind, and must
 * replay the changelog's tail onto it. A copy not brought up to date would hold open windows the
 * second processor already closed, and close them again: a final window twice.
 *
 * Event times are ~30 minutes in the future (the gateway allows an hour of skew) so that other
 * tests' access logs on the shared topic, which use "now", never make these records late. Each
 * minute is sent as its own phase, with disorder only inside the minute, so the bounded
 * out-of-orderness (5 s) holds whatever order concurrent batches land in.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { createRng } from "../../src/generators/rng.js";
import { ResultCode } from "../../src/client/index.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { Processor } from "../../src/processor/processor.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";
import {
  accessLogMinute,
  expectFinalWindowsExactlyOnce,
  finalWindows,
  pastLastMinute,
  readResults,
  type ResultRecord,
  type WindowCounts,
} from "./processor-child.js";

const run = `per-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const tenant = `processor-${run}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const hosts = Array.from({ length: 8 }, (_, i) => `${run}-h${i}`);
const minutes = 4;
const perMinute = 400;
const t0 = Math.ceil(Date.now() / 60_000) * 60_000 + 30 * 60_000;
const stateDir = mkdtempSync(join(tmpdir(), "weir-state-"));

let gateway: Gateway;
let processor: Processor | undefined;
const logs: string[] = [];

async function startProcessor(name: string, onDisk: boolean): Promise<Processor> {
  const { runtime, module } = await exampleJob("error-rate");
  const p = new Processor({
    brokers: [services.kafkaBrokers],
    job: runtime,
    module,
    threads: 2,
    groupId: `weir-test-processor-${run}`,
    instanceId: `${run}-${name}`,
    ...(onDisk ? { stateDir } : {}),
    log: (l) => {
      logs.push(`[${name}] ${l}`);
      process.stderr.write(`[processor ${name}] ${l}\n`);
    },
  });
  await p.start();
  return p;
}

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:secret`] });
}, 120_000);
afterAll(async () => {
  await processor?.close();
  await gateway?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

/**
 * This test's results on the shared topic: its tenant's hosts only, before the flush events' own
 * windows (whether those close, by the job's idle policy, depends on how long the test waits).
 */
const ours = (o: ResultRecord) =>
  o.tenant === tenant && hosts.includes(o.key) && (o.value.windowStartMs === undefined || o.value.windowStartMs < t0 + minutes * 60_000);

test("error-rate results across processors with state on disk and in memory: each final window per host per minute exactly once, with exact counts", async () => {
  const rng = createRng(42);
  const expected = new Map<string, WindowCounts>();
  const auth = { tenant, apiKey: "secret" };
  const kafka = new Kafka({ brokers: [services.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-results" });
  let n = 0;
  const id = () => `${run}-${n++}`;
  const send = async (events: Envelope[]) => {
    const results = await streamAll(gateway.url, auth, events, { connections: 2, batch: 50 });
    expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  };
  const sendMinute = (m: number) => send(accessLogMinute({ random: () => rng.next(), hosts, start: t0 + m * 60_000, perMinute, id, expected }));
  /** Until minute m's windows are all final in the results (the processor has gone past them). */
  const untilFinal = async (m: number) => {
    const wanted = [...expected.keys()].filter((k) => k.endsWith(`|${t0 + m * 60_000}`));
    await waitFor(
      async () => {
        const finals = finalWindows(await readResults(kafka, "error-rate", ours));
        return wanted.every((k) => finals.has(k));
      },
      `minute ${m}'s final windows`,
      120_000,
    );
  };

  // 1. On disk: minutes 0 and 1; minute 0 closes.
  processor = await startProcessor("disk-1", true);
  await sendMinute(0);
  await sendMinute(1);
  await untilFinal(0);
  await processor.close();
  // 2. In memory, from the changelog: minute 2; minute 1 closes (its windows were open on disk).
  processor = await startProcessor("memory", false);
  await sendMinute(2);
  await untilFinal(1);
  await processor.close();
  // 3. The first one's local copy again: behind by what the second one did.
  const restoredBefore = logs.length;
  processor = await startProcessor("disk-2", true);
  await sendMinute(3);
  // One later event per host moves every host's partition watermark past the last minute's end.
  await send(pastLastMinute(hosts, t0 + minutes * 60_000, id));

  // Nothing late, no updates: only finals, each once, with the counts sent.
  await expectFinalWindowsExactlyOnce(services.kafkaBrokers, "error-rate", expected, { timeoutMs: 120_000, keep: ours });
  expect(expected.size).toBe(hosts.length * minutes);
  // The third processor used the local copies and replayed only the changelog's tail onto them.
  const restores = logs.slice(restoredBefore).filter((l) => l.includes("restored partitions"));
  expect(restores.length).toBeGreaterThan(0);
  expect(restores.every((l) => / \(on disk: partitions [0-9,]+ from their local checkpoints, [0-9]+ changelog records replayed/.test(l))).toBe(true);
}, 360_000);
