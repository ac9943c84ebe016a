/**
 * kafkajs's transactional producer has been seen (chaos suite, broker SIGKILLs) to write a batch
 * twice inside one committed transaction. A repartitioned record carries the source position it
 * was re-keyed from (`weir.source`); a task applies each source position once, so the copy does
 * not count twice. (Found by the chaos suite: final windows up to 40% too high.)
 */
import type { KafkaMessage } from "kafkajs";
import { beforeAll, expect, test } from "vitest";
import { tenantKey, type WatermarkMarker } from "../../src/kafka-contract.js";
import { rawRecordOf } from "../../src/processor/raw-records.js";
import { ShardRuntime, WATERMARK_MARKER_TYPE, type TaskOutput } from "../../src/processor/shard-runtime.js";
import type { ConfiguredJob } from "../../src/processor/jobs.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";
import { repartitionedAccessLog } from "../unit-fixtures/repartitioned.js";

let errorRate: ConfiguredJob;
beforeAll(async () => {
  errorRate = await exampleJob("error-rate");
});

const t0 = Date.UTC(2026, 11, 6, 9, 0, 0);
const SOURCE = "weir.events.http-access-log";

/** A record of the repartition topic, re-keyed from partition 3 of the source. */
const repartitioned = (sourceOffset: number, status: number, at: number): KafkaMessage =>
  repartitionedAccessLog({ source: `${SOURCE}/3`, sourceOffset, status, at });

test("a repartitioned record written twice is counted once", () => {
  const messages = [
    repartitioned(22, 503, t0 + 1000),
    repartitioned(23, 200, t0 + 2000),
    repartitioned(22, 503, t0 + 1000),
    repartitioned(23, 200, t0 + 2000),
    repartitioned(24, 200, t0 + 3000),
  ];
  const records = messages.map((m) => rawRecordOf(m, "weir-processor-error-rate.repartition", 0, () => true)!);
  expect(records[0]).toMatchObject({ source: `${SOURCE}/3`, offset: 22, key: tenantKey("acme", "web-1") });

  const task = new ShardRuntime(errorRate.runtime, [], 0);
  const out: TaskOutput[] = [];
  for (const r of records)
    task.process({ type: r.type, key: r.key, tenant: r.tenant, payload: r.value, timestampMs: r.timestampMs }, out, { name: r.source!, offset: r.offset! });
  const closing: WatermarkMarker = { source: `${SOURCE}/3`, of: 1, maxEventTimeMs: t0 + 10 * 60_000 };
  task.process(
    { type: WATERMARK_MARKER_TYPE, key: "", tenant: "", payload: new TextEncoder().encode(JSON.stringify(closing)), timestampMs: t0 + 10 * 60_000 },
    out,
  );

  const finals = out.filter((o) => (o.value as { kind?: string }).kind === "final");
  expect(finals.map((o) => (o.value as { result: unknown }).result)).toEqual([{ errors: 1, requests: 3 }]);
});
