/**
 * A user's own job over a user's own event type, end to end: acme.v1.PageView (a .proto outside
 * Weir's source, built into a schema image with buildSchemaImage, loaded by the gateway and the
 * processor at runtime), the job module examples/acme/jobs/page-stats.ts run by `weir processor`,
 * keyed by page while the producers key by user (the repartition step). The processor is
 * SIGKILLed mid-stream and restarted. The results, read back read_committed, are exactly what the
 * JobTestDriver computes from the same input, each final window once.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { create, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { Kafka, logLevel } from "kafkajs";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EnvelopeSchema, type Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { ResultCode } from "../../src/client/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { buildSchemaImage } from "../../src/schema/build-image.js";
import type { SchemaRegistry } from "../../src/schema/registry.js";
import { createRng } from "../../src/generators/rng.js";
import { readCommitted } from "../../src/adapters/kafka/read-committed.js";
import { changelogTopic, resultsTopic, splitTenantKey } from "../../src/kafka-contract.js";
import { JobTestDriver } from "../../src/testing.js";
import pageStats from "../../examples/acme/jobs/page-stats.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { startProcessorChild, type ProcessorChild } from "./processor-child.js";

const run = `uj-${Date.now().toString(36)}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const tenant = `acme-${run}`;
const groupPrefix = `weir-test-${run}`;
const jobOptions = { "page-stats": { windowMs: 60_000 } };
const pages = Array.from({ length: 9 }, (_, i) => `/${run}/p${i}`);
const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;

let imagePath: string;
let registry: SchemaRegistry;
let gateway: Gateway;
let child: ProcessorChild | undefined;
let log = "";

beforeAll(async () => {
  imagePath = join(mkdtempSync(join(tmpdir(), "weir-acme-")), "acme.binpb");
  registry = buildSchemaImage({ protoDir: "examples/acme/proto", out: imagePath });
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:secret`], schemaImage: imagePath, processorJobs: [] });
}, 120_000);
afterAll(async () => {
  await child?.stop();
  await gateway?.close();
}, 60_000);

function startChild(): ProcessorChild {
  if (child) log += child.log;
  return startProcessorChild({
    brokers: services.kafkaBrokers,
    job: "page-stats",
    module: "./examples/acme/jobs/page-stats.ts",
    groupPrefix,
    instanceId: run,
    env: { WEIR_SCHEMA_IMAGE: imagePath, WEIR_JOB_OPTIONS: JSON.stringify(jobOptions) },
  });
}

type View = { id: string; page: string; user: string; timestampMs: number };

/** Page views over `minutes` minutes, in rough time order with up to 3 s of disorder; producers key them by user. */
function views(minutes: number): View[] {
  const rng = createRng(11);
  const out: View[] = [];
  const perMinute = 300;
  for (let i = 0; i < minutes * perMinute; i++) {
    const page = pages[Math.floor(rng.next() * pages.length)]!;
    const user = users[Math.floor(rng.next() * users.length)]!;
    const time = t0 + Math.floor((i * 60_000) / perMinute) - Math.floor(rng.next() * 3000);
    out.push({ id: `${run}-${i}`, page, user, timestampMs: Math.max(t0, time) });
  }
  return out;
}

function envelope(schema: DescMessage, v: View): Envelope {
  return create(EnvelopeSchema, {
    id: v.id,
    type: schema.typeName,
    partitionKey: v.user,
    eventTime: timestampFromMs(v.timestampMs),
    payload: toBinary(schema, create(schema, { page: v.page, user: v.user })),
  });
}

type Final = { key: string; windowStartMs: number; result: unknown };

test("a user job over a user type: results equal the test driver's, exactly once across a processor SIGKILL", async () => {
  const schema = registry.eventType("acme.v1.PageView")!.schema;
  const all = views(5);
  const auth = { tenant, apiKey: "secret" };
  child = startChild();
  await child.waitForLog(/assigned partitions/, { timeoutMs: 120_000 });

  // In event-time order (one connection, a minute at a time: the 3 s of disorder the generator
  // made is all the job sees): the first half, then a SIGKILL once the job has committed state,
  // then a new instance and the rest.
  const send = async (slice: readonly View[]) => {
    for (let i = 0; i < slice.length; i += 300) {
      const results = await streamAll(
        gateway.url,
        auth,
        slice.slice(i, i + 300).map((v) => envelope(schema, v)),
        { connections: 1, batch: 50 },
      );
      expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
    }
  };
  const half = Math.floor(all.length / 2);
  await send(all.slice(0, half));
  const admin = new Kafka({ brokers: [services.kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const changelogSize = async () =>
    (await admin.fetchTopicOffsets(changelogTopic(`${groupPrefix}-page-stats`)).catch(() => [])).reduce((sum, o) => sum + Number(o.high), 0);
  await waitFor(async () => (await changelogSize()) > 0, "state committed", 120_000);
  await admin.disconnect();
  await child.kill("SIGKILL");
  child = startChild();
  await send(all.slice(half));

  // What the job must produce: the same input through the test driver, then the input ends.
  const driver = JobTestDriver.create(pageStats, { registry, options: jobOptions["page-stats"] });
  for (const v of all) driver.pipe("views", { page: v.page, user: v.user }, { tenant, key: v.user, timestampMs: v.timestampMs });
  driver.advanceWallClock(60_000);
  const expected: Final[] = driver
    .readAll("results")
    .map((o) => o.value as { kind: string; key: string; windowStartMs: number; result: unknown })
    .filter((v) => v.kind === "final")
    .map((v) => ({ key: v.key, windowStartMs: v.windowStartMs, result: v.result }));
  expect(expected.length).toBeGreaterThanOrEqual(pages.length * 4);

  // The results in Kafka (read_committed): the idle policy closes the last windows once the input ends.
  const kafka = new Kafka({ brokers: [services.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-user-job" });
  let got: Array<Final & { kind: string }> = [];
  const sortKey = (f: Final) => `${f.key}|${f.windowStartMs}`;
  try {
    await waitFor(
      async () => {
        got = [];
        await readCommitted(kafka, resultsTopic("page-stats"), (_p, m) => {
          if (splitTenantKey(m.key?.toString() ?? "")?.tenant !== tenant) return;
          const v = JSON.parse(m.value!.toString()) as { kind: string; key: string; windowStartMs: number; result: unknown };
          got.push({ kind: v.kind, key: v.key, windowStartMs: v.windowStartMs, result: v.result });
        });
        return got.filter((g) => g.kind === "final").length >= expected.length;
      },
      "every final window in Kafka",
      180_000,
    );
  } finally {
    process.stderr.write(
      `${(log + (child?.log ?? ""))
        .split("\n")
        .filter((l) => l.includes("[processor"))
        .join("\n")}\n`,
    );
  }
  // Nothing late, no corrections, each window once, with the driver's figures.
  expect(got.filter((g) => g.kind !== "final")).toEqual([]);
  const finals = got.map(({ key, windowStartMs, result }) => ({ key, windowStartMs, result }));
  expect(finals.sort((a, b) => sortKey(a).localeCompare(sortKey(b)))).toEqual(expected.sort((a, b) => sortKey(a).localeCompare(sortKey(b))));
  // The restarted instance restored its tasks from the changelog.
  expect(log + (child?.log ?? "")).toMatch(/restored partitions [0-9,]+ \([1-9][0-9]* entries/);
}, 400_000);
