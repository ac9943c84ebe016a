/**
 * The operator's CLI commands on real services: `weir schema check` before a SIGHUP, `weir topics`
 * with each consumer group's lag, `weir stack restart <service>` keeping ports and data, and
 * `weir stack purge`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, expect, inject, test } from "vitest";
import { builtinImagePath } from "../../src/schema/registry.js";
import { fileOf, mutatedImage } from "../unit-fixtures/images.js";

const WEIR = fileURLToPath(new URL("../../bin/weir.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "weir-cli-ops-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function weir(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEIR, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

test("weir schema check: the built-in image is compatible with itself; one without FxRate is not", async () => {
  const same = await weir(["schema", "check", builtinImagePath, "--against", builtinImagePath, "--json"]);
  expect(same.code).toBe(0);
  expect(JSON.parse(same.out)).toMatchObject({ compatible: true, problems: [] });

  const broken = join(dir, "without-fx-rate.binpb");
  writeFileSync(
    broken,
    mutatedImage((set) => {
      const reference = fileOf(set, "weir/events/v1/reference.proto");
      reference.messageType = reference.messageType.filter((m) => m.name !== "FxRate");
    }),
  );
  const refused = await weir(["schema", "check", broken, "--against", builtinImagePath]);
  expect(refused.code).toBe(1);
  expect(refused.out).toContain("NOT compatible");
  expect(refused.out).toContain("event type weir.events.v1.FxRate is no longer accepted");
}, 60_000);

test("weir topics: Weir's topics with partitions, records and a consumer group's lag", async () => {
  const brokers = inject("kafkaBrokers");
  const topic = `weir.cli-ops-${Date.now().toString(36)}`;
  const group = `${topic}-readers`;
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: "v", partition: i % 2 })) });
  await producer.disconnect();
  // The group has read 3 of partition 0's 5 records and nothing of partition 1's.
  await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: "3" }] });
  await admin.disconnect();

  const listed = await weir(["topics", "--json"], { WEIR_KAFKA_BROKERS: brokers });
  expect(listed.code).toBe(0);
  const rows = listed.out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { topic: string; partitions: number; records: number; groups: Record<string, number> });
  expect(rows.find((r) => r.topic === topic)).toEqual({ topic, partitions: 2, records: 10, groups: { [group]: 2 } });
  expect(rows.every((r) => /^([A-Za-z0-9_-]+\.)?weir\.|\.changelog$|\.repartition$/.test(r.topic))).toBe(true);
}, 60_000);

test("weir stack restart redis keeps its port; weir stack purge removes the stack", async () => {
  const stackDir = join(dir, "stack");
  const up = await weir(["stack", "up", "--data-dir", stackDir]);
  expect(up.code).toBe(0);
  const redisUrl = /WEIR_REDIS_URL=(\S+)/.exec(up.out)![1];
  const restarted = await weir(["stack", "restart", "redis", "--data-dir", stackDir]);
  expect(restarted.code).toBe(0);
  expect(restarted.out).toMatch(/redis stopped \(terminated\)/);
  expect(restarted.out).toContain(`WEIR_REDIS_URL=${redisUrl}`);
  const status = await weir(["stack", "status", "--data-dir", stackDir]);
  expect(status.out).toMatch(/redis up \(pid \d+\)/);
  expect(status.out).toMatch(/kafka up \(pid \d+\)/);
  const purged = await weir(["stack", "purge", "--data-dir", stackDir]);
  expect(purged.code).toBe(0);
  expect(existsSync(stackDir)).toBe(false);
}, 240_000);
