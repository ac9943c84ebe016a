/**
 * Issue 17's restore benchmark: the host-state job (one entry per host) over `keys` hosts on a
 * private Kafka, then restarts of its processor timed from their log lines: from the local copy on
 * disk plus the changelog's tail, from the whole changelog in memory, and from the whole changelog
 * onto an empty disk. The disk runs get a heap (`--max-old-space-size`) smaller than their state;
 * the same heap in memory shows the state does not fit it. Each processor runs in a child process.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Kafka, logLevel, type Message } from "kafkajs";
import { HttpAccessLogSchema } from "../../src/events.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { headers } from "../../src/kafka-contract.js";
import { ensureTopicsWithKafkajs } from "../../src/adapters/kafka/kafkajs-topics.js";
import { startTestStack } from "../../src/stack/index.js";
import { readChangelog } from "../../src/processor/changelog.js";
import { changelogTopic } from "../../src/kafka-contract.js";

type ChildResult = { ok: true; result: Record<string, unknown> } | { ok: false; exitCode: number | null; reason: string };

function runChild(env: Record<string, string>, heapMiB?: number): Promise<ChildResult> {
  const args = [...(heapMiB ? [`--max-old-space-size=${heapMiB}`] : []), "--import", "tsx", "load/bench/state-restore-child.ts"];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code === 0 && line.startsWith("{")) resolve({ ok: true, result: JSON.parse(line) as Record<string, unknown> });
      else
        resolve({
          ok: false,
          exitCode: code,
          reason: (/(heap out of memory|ERR_WORKER_OUT_OF_MEMORY|[A-Za-z]*Error:[^\n]*)/.exec(err)?.[0] ?? err.slice(-300)).trim(),
        });
    }),
  );
}

/** Two records per host, one pass over all hosts after the other: the second reads what the first left in the state. */
async function produceHosts(brokers: string, keys: number): Promise<void> {
  const type = SchemaRegistry.builtin().eventType(HttpAccessLogSchema.typeName)!;
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-bench-hosts" });
  await ensureTopicsWithKafkajs(kafka, [{ topic: type.topic, partitions: type.partitions }]);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const now = Date.now();
  try {
    for (let i = 0; i < 2 * keys; i += 5000) {
      const messages: Message[] = [];
      for (let k = i; k < Math.min(2 * keys, i + 5000); k++) {
        const j = k % keys;
        const host = `host-${String(j).padStart(8, "0")}.example.com`;
        const value = toBinary(
          HttpAccessLogSchema,
          create(HttpAccessLogSchema, { host, method: "GET", path: `/item/${j % 977}`, status: j % 13 === 0 ? 503 : 200 }),
        );
        messages.push({ key: host, value: Buffer.from(value), timestamp: String(now), headers: { [headers.type]: type.name, [headers.tenant]: "bench" } });
      }
      await producer.send({ topic: type.topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

const duBytes = (dir: string): number => Number(execFileSync("du", ["-sb", dir]).toString().split("\t")[0]);

export async function stateRestoreBench(keys: number, heapMiB: number, emit: (row: Record<string, unknown>) => void): Promise<void> {
  const stack = await startTestStack();
  const copy = mkdtempSync(join(tmpdir(), "weir-bench-state-"));
  const empty = mkdtempSync(join(tmpdir(), "weir-bench-state-"));
  const base = { BROKERS: stack.kafkaBrokers, GROUP: `weir-bench-host-state-${randomUUID()}` };
  try {
    await produceHosts(stack.kafkaBrokers, keys);
    const processed = await runChild({ ...base, MODE: "process", EXPECTED: String(2 * keys), STATE_DIR: copy }, heapMiB);
    emit({ scenario: "state-restore", step: "process, state on disk", keys, ...outcome(processed), stateOnDiskMiB: Math.round(duBytes(copy) / 2 ** 20) });
    emit({ scenario: "state-restore", step: "check: every host's state in the changelog", keys, ...(await checkHosts(stack.kafkaBrokers, base.GROUP, keys)) });
    const inMemoryRun = await runChild({ ...base, GROUP: `${base.GROUP}-memory`, MODE: "process", EXPECTED: String(2 * keys) });
    emit({ scenario: "state-restore", step: "process, state in memory (no heap limit; another group)", keys, ...outcome(inMemoryRun) });
    const fromCopy = await runChild({ ...base, MODE: "restore", STATE_DIR: copy }, heapMiB);
    emit({ scenario: "state-restore", step: "restart: local copy + changelog tail", keys, ...outcome(fromCopy) });
    const inMemory = await runChild({ ...base, MODE: "restore" });
    emit({ scenario: "state-restore", step: "restart: whole changelog, in memory (no heap limit)", keys, ...outcome(inMemory) });
    const ontoDisk = await runChild({ ...base, MODE: "restore", STATE_DIR: empty }, heapMiB);
    emit({ scenario: "state-restore", step: "restart: whole changelog onto an empty disk", keys, ...outcome(ontoDisk) });
    const memoryLimited = await runChild({ ...base, MODE: "restore" }, heapMiB);
    emit({ scenario: "state-restore", step: `restart: whole changelog, in memory, heap ${heapMiB} MiB`, keys, ...outcome(memoryLimited) });
  } finally {
    rmSync(copy, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
    await stack.close();
  }
}

/** Every host's entry in the job's changelog: two requests each (the second record read the first's state back from disk). */
async function checkHosts(brokers: string, group: string, keys: number): Promise<Record<string, number>> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-bench-check" });
  const partitions = SchemaRegistry.builtin().eventType(HttpAccessLogSchema.typeName)!.partitions;
  const state = await readChangelog(
    kafka,
    changelogTopic(group),
    Array.from({ length: partitions }, (_, p) => p),
  );
  let hosts = 0;
  let right = 0;
  for (const entries of state.values())
    for (const [store, , value] of entries.values()) {
      if (store !== "hosts") continue;
      hosts++;
      if ((value as { requests: number }).requests === 2) right++;
    }
  return { hostsInState: hosts, withTwoRequests: right, missing: keys - hosts };
}

function outcome(r: ChildResult): Record<string, unknown> {
  return r.ok ? r.result : { failed: true, exitCode: r.exitCode, reason: r.reason };
}
