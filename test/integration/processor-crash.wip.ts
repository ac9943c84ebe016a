// WORK IN PROGRESS, not run by the test command: passed 3 of 3 runs after a fix, too few to
// trust in CI yet. Rename to processor-crash.test.ts once it has proven itself (issue 4).
/**
 * The processor killed mid-stream (SIGKILL, no cleanup) and restarted with the same instance id:
 * its open transaction is aborted by the restarted producer, its tasks are restored from the
 * changelog, and the results read read_committed still hold every final window exactly once with
 * the counts sent. On a private stack: its event times would make the shared topic's other
 * processor tests see late records.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { Kafka, logLevel } from "kafkajs";
import { HttpAccessLogSchema } from "../../src/events.js";
import { createRng } from "../../load/generators/rng.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { changelogTopic, resultsTopic } from "../../src/processor/processor.js";
import { readCommitted } from "../../src/processor/read-committed.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";

const run = `pcr-${Date.now().toString(36)}`;
const tenant = `processor-crash-${run}`;
const hosts = Array.from({ length: 8 }, (_, i) => `${run}-h${i}`);
const minutes = 4;
const perMinute = 400;
const t0 = Math.ceil(Date.now() / 60_000) * 60_000 + 20 * 60_000;

let stack: TestStack;
let gateway: Gateway;
let child: ChildProcess | undefined;
let log = "";

function startChild(): ChildProcess {
  // A tiny script file, not --eval: the engine's worker threads inherit the exec arguments.
  const script = join(tmpdir(), `${run}-processor.mjs`);
  const entry = pathToFileURL(join(process.cwd(), "src/cli/run-processor.ts")).href;
  writeFileSync(script, `const m = await import(${JSON.stringify(entry)});\nprocess.exitCode = await m.runProcessor();\n`);
  const c = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      WEIR_KAFKA_BROKERS: stack.kafkaBrokers,
      WEIR_PROCESSOR_JOB: "error-rate",
      WEIR_PROCESSOR_THREADS: "2",
      WEIR_PROCESSOR_GROUP_ID: `weir-test-${run}`,
      WEIR_PROCESSOR_INSTANCE_ID: run,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  c.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  return c;
}

beforeAll(async () => {
  stack = await startTestStack();
  gateway = await gatewayFor({ kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl }, { apiKeys: [`${tenant}:secret`] });
}, 180_000);
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  await gateway?.close();
  await stack?.close();
  rmSync(join(tmpdir(), `${run}-processor.mjs`), { force: true });
}, 60_000);


const access = (id: string, host: string, status: number, eventTimeMs: number): Envelope =>
  envelopeOf(HttpAccessLogSchema, { host, method: "GET", path: "/", status }, { id, eventTimeMs, partitionKey: host });

test("SIGKILLed mid-stream and restarted: every final window exactly once, exact counts", async () => {
  const random = createRng(7).next;
  const expected = new Map<string, { errors: number; requests: number }>();
  const auth = { tenant, apiKey: "secret" };
  let n = 0;
  child = startChild();
  await waitFor(() => log.includes("assigned partitions"), "the processor to join its group", 120_000).catch((err: Error) => {
    throw new Error(`${err.message}; child exit ${child?.exitCode}; its log:\n${log}`);
  });
  for (let m = 0; m < minutes; m++) {
    const start = t0 + m * 60_000;
    const events: Envelope[] = [];
    for (let i = 0; i < perMinute; i++) {
      const host = hosts[Math.floor(random() * hosts.length)]!;
      const status = random() < 0.12 ? 503 : 200;
      const time = Math.min(start + 59_999, Math.max(start, start + Math.floor((i * 60_000) / perMinute) - Math.floor(random() * 2000)));
      events.push(access(`${run}-${n++}`, host, status, time));
      const k = `${host}|${start}`;
      const c = expected.get(k) ?? { errors: 0, requests: 0 };
      expected.set(k, { errors: c.errors + (status >= 500 ? 1 : 0), requests: c.requests + 1 });
    }
    const sending = streamAll(gateway.url, auth, events, { connections: 2, batch: 25 });
    if (m === 2) {
      // Kill while this minute is streaming in (and the processor is mid-batch or between them).
      // ... once the first instance has committed state, so the restart must restore it.
      const admin = new Kafka({ brokers: [stack.kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await waitFor(async () => (await admin.fetchTopicOffsets(changelogTopic("error-rate"))).some((o) => Number(o.high) > 0), "committed changelog", 60_000);
      await admin.disconnect();
      await new Promise((r) => setTimeout(r, 150));
      const exited = new Promise((r) => child!.once("exit", r));
      child!.kill("SIGKILL");
      await exited;
      child = startChild();
    }
    const results = await sending;
    expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  }
  const flushed = await streamAll(gateway.url, auth, hosts.map((h) => access(`${run}-${n++}`, h, 200, t0 + minutes * 60_000 + 10_000)), { connections: 1 });
  expect(flushed.every((r) => r.code === ResultCode.ACK)).toBe(true);

  type Value = { kind: string; key: string; windowStartMs: number; result?: { errors: number; requests: number } };
  const kafka = new Kafka({ brokers: [stack.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-results" });
  let outputs: Array<{ key: string; stream: string; value: Value }> = [];
  const deadline = Date.now() + 150_000;
  for (;;) {
    outputs = [];
    await readCommitted(kafka, resultsTopic("error-rate"), (_p, msg) => {
      outputs.push({ key: msg.key!.toString(), stream: String(msg.headers?.["weir.stream"] ?? ""), value: JSON.parse(msg.value!.toString()) as Value });
    });
    const finals = new Set(outputs.filter((o) => o.value.kind === "final").map((o) => `${o.key}|${o.value.windowStartMs}`));
    if ([...expected.keys()].every((k) => finals.has(k))) break;
    if (Date.now() > deadline) throw new Error(`timed out: ${finals.size} of ${expected.size} final windows\n${log}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  // The restarted instance restored its tasks from a non-empty changelog.
  expect(log).toMatch(/restored partitions [0-9,]+ \([1-9][0-9]* entries\)/);
  process.stderr.write(log.split("\n").filter((l) => l.includes("[processor")).join("\n") + "\n");
  expect(outputs.filter((o) => o.stream !== "results" || o.value.kind !== "final")).toEqual([]);
  const got = new Map<string, { errors: number; requests: number }>();
  for (const o of outputs) {
    const k = `${o.key}|${o.value.windowStartMs}`;
    expect(got.has(k), `final window ${k} twice`).toBe(false);
    got.set(k, o.value.result!);
  }
  expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected].sort()));
}, 400_000);
