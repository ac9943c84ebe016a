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
import { HttpAccessLogSchema } from "../../src/events.js";
import { createRng } from "../../src/generators/rng.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { Processor } from "../../src/processor/processor.js";
import { resultsTopic } from "../../src/kafka-contract.js";
import { readCommitted } from "../../src/adapters/kafka/read-committed.js";
import { splitTenantKey } from "../../src/kafka-contract.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";

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

type Counts = { errors: number; requests: number };
type Out = { key: string; stream: string; value: { kind: string; key: string; windowStartMs: number; result?: Counts } };

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

function access(id: string, host: string, status: number, eventTimeMs: number): Envelope {
  return envelopeOf(HttpAccessLogSchema, { host, method: "GET", path: "/", status }, { id, eventTimeMs, partitionKey: host });
}

/** This test's results so far (its tenant's hosts only, before the flush events' windows). */
async function ourOutputs(kafka: Kafka): Promise<Out[]> {
  const ours = new Set(hosts);
  const outputs: Out[] = [];
  // read_committed up to the end (readTopics in support.ts waits for a record at high - 1, which
  // on a transactional topic is a commit marker).
  await readCommitted(kafka, resultsTopic("error-rate"), (_p, m) => {
    // Keys are tenant-qualified: only this test's tenant's hosts are ours.
    const owner = splitTenantKey(m.key?.toString("utf8") ?? "");
    if (owner?.tenant !== tenant || !ours.has(owner.key)) return;
    expect(m.headers?.["weir.tenant"]?.toString()).toBe(tenant);
    const value = JSON.parse(m.value!.toString("utf8")) as Out["value"];
    outputs.push({ key: owner.key, stream: String(m.headers?.["weir.stream"] ?? ""), value: { ...value, key: splitTenantKey(value.key)!.key } });
  });
  // The flush events' own windows are not asserted: whether they close (by the job's idle policy,
  // 30 s without records) depends on how long this waits.
  return outputs.filter((o) => o.value.windowStartMs === undefined || o.value.windowStartMs < t0 + minutes * 60_000);
}

const finalsOf = (outputs: readonly Out[]) => new Set(outputs.filter((o) => o.value.kind === "final").map((o) => `${o.key}|${o.value.windowStartMs}`));

test("error-rate results across processors with state on disk and in memory: each final window per host per minute exactly once, with exact counts", async () => {
  const rng = createRng(42);
  const random = () => rng.next();
  const expected = new Map<string, Counts>();
  const auth = { tenant, apiKey: "secret" };
  const kafka = new Kafka({ brokers: [services.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-results" });
  let n = 0;
  const sendMinute = async (m: number) => {
    const start = t0 + m * 60_000;
    const events: Envelope[] = [];
    for (let i = 0; i < perMinute; i++) {
      const host = hosts[Math.floor(random() * hosts.length)]!;
      const status = random() < 0.12 ? [500, 502, 503][Math.floor(random() * 3)]! : [200, 201, 404][Math.floor(random() * 3)]!;
      // Inside the minute, in rough order with up to 2 s of disorder.
      const time = Math.min(start + 59_999, Math.max(start, start + Math.floor((i * 60_000) / perMinute) - Math.floor(random() * 2000)));
      events.push(access(`${run}-${n++}`, host, status, time));
      const k = `${host}|${start}`;
      const c = expected.get(k) ?? { errors: 0, requests: 0 };
      expected.set(k, { errors: c.errors + (status >= 500 ? 1 : 0), requests: c.requests + 1 });
    }
    const results = await streamAll(gateway.url, auth, events, { connections: 2, batch: 50 });
    expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  };
  /** Until minute m's windows are all final in the results (the processor has gone past them). */
  const untilFinal = async (m: number) => {
    const wanted = [...expected.keys()].filter((k) => Number(k.slice(k.lastIndexOf("|") + 1)) === t0 + m * 60_000);
    await waitFor(
      async () => {
        const finals = finalsOf(await ourOutputs(kafka));
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
  // One later event per host moves every host's partition watermark past the last minute's end
  // (watermark = max event time - 5 s); its own window stays open and is not asserted.
  const flush = hosts.map((h) => access(`${run}-${n++}`, h, 200, t0 + minutes * 60_000 + 10_000));
  const flushed = await streamAll(gateway.url, auth, flush, { connections: 1, batch: 50 });
  expect(flushed.every((r) => r.code === ResultCode.ACK)).toBe(true);

  let outputs: Out[];
  const deadline = Date.now() + 120_000;
  for (;;) {
    outputs = await ourOutputs(kafka);
    const finals = finalsOf(outputs);
    if ([...expected.keys()].every((k) => finals.has(k))) break;
    if (Date.now() > deadline)
      throw new Error(`timed out: ${finals.size} of ${expected.size} final windows; missing ${[...expected.keys()].filter((k) => !finals.has(k)).join(" ")}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  for (const o of outputs) expect(o.key).toBe(o.value.key);
  // Nothing late, no updates: only finals, each once, with the counts sent.
  expect(outputs.filter((o) => o.stream !== "results" || o.value.kind !== "final")).toEqual([]);
  const got = new Map<string, Counts>();
  for (const o of outputs) {
    const k = `${o.key}|${o.value.windowStartMs}`;
    expect(got.has(k), `final window ${k} twice`).toBe(false);
    got.set(k, o.value.result!);
  }
  expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected].sort()));
  expect(expected.size).toBe(hosts.length * minutes);
  // The third processor used the local copies and replayed only the changelog's tail onto them.
  const restores = logs.slice(restoredBefore).filter((l) => l.includes("restored partitions"));
  expect(restores.length).toBeGreaterThan(0);
  expect(restores.every((l) => / \(on disk: partitions [0-9,]+ from their local checkpoints, [0-9]+ changelog records replayed/.test(l))).toBe(true);
}, 360_000);
