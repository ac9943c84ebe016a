/**
 * WEIR_PROCESSOR_IDLE_ADVANCE_MS: one minute of access logs and then nothing. Without the idle
 * advance the minute's windows would wait for the partitions' next records forever (their
 * watermark follows event time only); with it, once the partitions are idle for the set time,
 * their watermarks follow the clock and every host's window closes, once, with exact counts.
 *
 * Event times are ~50 minutes ahead (the gateway allows an hour of skew), past every other test's
 * events on the shared topic, so no other record moves these partitions' watermarks.
 */
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { Processor } from "../../src/processor/processor.js";
import { resultsTopic } from "../../src/kafka-contract.js";
import { readCommitted } from "../../src/adapters/kafka/read-committed.js";
import { splitTenantKey } from "../../src/kafka-contract.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";

const run = `idle-${Date.now().toString(36)}`;
const tenant = `processor-${run}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const hosts = Array.from({ length: 6 }, (_, i) => `${run}-h${i}`);
const minute = Math.ceil(Date.now() / 60_000) * 60_000 + 50 * 60_000;

let gateway: Gateway;
let processor: Processor;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:secret`] });
  const { runtime, module } = await exampleJob("error-rate");
  processor = new Processor({
    brokers: [services.kafkaBrokers],
    job: runtime,
    module,
    threads: 2,
    groupId: `weir-test-${run}`,
    instanceId: run,
    idleAdvanceMs: 1500,
    log: (l) => process.stderr.write(`[processor] ${l}\n`),
  });
  await processor.start();
}, 120_000);
afterAll(async () => {
  await processor?.close();
  await gateway?.close();
});

test("an idle partition's windows close once it has been idle for WEIR_PROCESSOR_IDLE_ADVANCE_MS", async () => {
  const expected = new Map<string, { errors: number; requests: number }>();
  const events = Array.from({ length: 300 }, (_, i) => {
    const host = hosts[i % hosts.length]!;
    const status = i % 7 === 0 ? 503 : 200;
    const c = expected.get(host) ?? { errors: 0, requests: 0 };
    expected.set(host, { errors: c.errors + (status >= 500 ? 1 : 0), requests: c.requests + 1 });
    return envelopeOf(
      HttpAccessLogSchema,
      { host, method: "GET", path: "/", status },
      { id: `${run}-${i}`, eventTimeMs: minute + i * 150, partitionKey: host },
    );
  });
  const results = await streamAll(gateway.url, { tenant, apiKey: "secret" }, events, { connections: 1, batch: 50 });
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  // Nothing more is sent: only the idle advance can close the minute.

  const kafka = new Kafka({ brokers: [services.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-results" });
  type Final = { host: string; kind: string; windowStartMs: number; result?: { errors: number; requests: number } };
  let outputs: Final[] = [];
  await waitFor(
    async () => {
      outputs = [];
      await readCommitted(kafka, resultsTopic("error-rate"), (_p, m) => {
        const owner = splitTenantKey(m.key?.toString("utf8") ?? "");
        if (owner?.tenant !== tenant) return;
        const value = JSON.parse(m.value!.toString("utf8")) as Omit<Final, "host">;
        outputs.push({ host: owner.key, ...value });
      });
      return outputs.filter((o) => o.kind === "final").length >= hosts.length;
    },
    "every host's window to close",
    120_000,
  );
  const finals = outputs.filter((o) => o.kind === "final");
  expect(finals.every((o) => o.windowStartMs === minute)).toBe(true);
  expect(new Map(finals.map((o) => [o.host, o.result]))).toEqual(expected);
  expect(finals).toHaveLength(hosts.length);
});
