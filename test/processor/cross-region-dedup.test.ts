/**
 * A job that reads several regions (decision 0027) sees an event twice when a client sent it to
 * region A, A failed before answering, and the client sent it again to region B: once from B's
 * own topic, once from A's topic mirrored into B (when A's log comes back). Its tasks apply the
 * first copy of an event id and drop the others, within the dedup window, across restores.
 */
import type { KafkaMessage } from "kafkajs";
import { beforeAll, describe, expect, test } from "vitest";
import { WeirError } from "../../src/errors.js";
import type { WatermarkMarker } from "../../src/kafka-contract.js";
import { rawRecordOf } from "../../src/processor/raw-records.js";
import { EVENT_IDS_STORE, ShardRuntime, WATERMARK_MARKER_TYPE, type TaskOutput } from "../../src/processor/shard-runtime.js";
import { packRecords, unpackRecords } from "../../src/processor/thread-messages.js";
import type { ConfiguredJob } from "../../src/processor/jobs.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";
import { repartitionedAccessLog } from "../unit-fixtures/repartitioned.js";

const TOPIC = "weir.events.http-access-log";
const t0 = Date.UTC(2026, 11, 6, 9, 0, 0);
const HOUR = 3_600_000;

let oneRegion: ConfiguredJob;
let twoRegions: ConfiguredJob;
beforeAll(async () => {
  oneRegion = await exampleJob("error-rate");
  twoRegions = await exampleJob("error-rate", undefined, ["a"]); // dedup window: 1 h
});

/** A record of the job's repartition topic, re-keyed from `source` (this region's topic or region a's mirror of it). */
const repartitioned = (source: string, sourceOffset: number, id: string, status: number, at: number): KafkaMessage =>
  repartitionedAccessLog({ source: `${source}/0`, sourceOffset, status, at, id });

/** Feeds the messages to a task as the processor and its worker thread would (ids kept, packed and unpacked). */
function feed(task: ShardRuntime, messages: KafkaMessage[], out: TaskOutput[]): void {
  const raw = messages.map((m) => rawRecordOf(m, "weir-processor-error-rate.repartition", 0, () => true, false, true)!);
  for (const r of unpackRecords(packRecords(raw)))
    task.process({ type: r.type, key: r.key, tenant: r.tenant, payload: r.value, timestampMs: r.timestampMs, ...(r.id ? { id: r.id } : {}) }, out, {
      name: r.source!,
      offset: r.offset!,
    });
}

/** Closes every window up to `at` (both sources' markers), returning the final counts. */
function close(task: ShardRuntime, out: TaskOutput[], at: number, sources: readonly string[]): unknown[] {
  for (const source of sources) {
    const marker: WatermarkMarker = { source: `${source}/0`, of: sources.length, maxEventTimeMs: at };
    task.process({ type: WATERMARK_MARKER_TYPE, key: "", tenant: "", payload: new TextEncoder().encode(JSON.stringify(marker)), timestampMs: at }, out);
  }
  return out.filter((o) => (o.value as { kind?: string }).kind === "final").map((o) => (o.value as { result: unknown }).result);
}

describe("a job reading two regions", () => {
  test("reads this region's topics and region a's mirrors of them, through its repartition step", () => {
    expect(twoRegions.runtime.streamTopics).toEqual([TOPIC, `a.${TOPIC}`]);
    expect(twoRegions.runtime.repartition).toBe(true);
    expect(oneRegion.runtime.streamTopics).toEqual([TOPIC]);
  });

  test("refuses a region name that cannot prefix a topic", async () => {
    await expect(exampleJob("error-rate", undefined, ["a.b"])).rejects.toThrow(WeirError);
    await expect(exampleJob("error-rate", undefined, ["a.b"])).rejects.toThrow(/region name "a.b"/);
  });

  test("an event that reached both regions counts once; without regions the same records count twice", () => {
    const messages = [
      repartitioned(TOPIC, 0, "e1", 503, t0 + 1000),
      repartitioned(TOPIC, 1, "e2", 200, t0 + 2000),
      // The same two events, mirrored from region a later, and one only region a had.
      repartitioned(`a.${TOPIC}`, 7, "e1", 503, t0 + 1000),
      repartitioned(`a.${TOPIC}`, 8, "e2", 200, t0 + 2000),
      repartitioned(`a.${TOPIC}`, 9, "e3", 500, t0 + 3000),
    ];
    const sources = [TOPIC, `a.${TOPIC}`];
    const deduped: TaskOutput[] = [];
    const task = new ShardRuntime(twoRegions.runtime, [], 0);
    feed(task, messages, deduped);
    expect(close(task, deduped, t0 + 10 * 60_000, sources)).toEqual([{ errors: 2, requests: 3 }]);

    const counted: TaskOutput[] = [];
    const single = new ShardRuntime(oneRegion.runtime, [], 0);
    feed(single, messages, counted);
    expect(close(single, counted, t0 + 10 * 60_000, sources)).toEqual([{ errors: 3, requests: 5 }]);
  });

  test("a restored task still knows the ids it applied", () => {
    const first = new ShardRuntime(twoRegions.runtime, [], 0);
    feed(first, [repartitioned(TOPIC, 0, "e1", 503, t0 + 1000)], []);
    const changelog = first.takeChanges();
    expect(changelog.some(([store, key]) => store === EVENT_IDS_STORE && key === "e1")).toBe(true);

    const restored = new ShardRuntime(twoRegions.runtime, changelog, 0);
    const out: TaskOutput[] = [];
    feed(restored, [repartitioned(`a.${TOPIC}`, 3, "e1", 503, t0 + 1000), repartitioned(`a.${TOPIC}`, 4, "e4", 200, t0 + 1500)], out);
    expect(close(restored, out, t0 + 10 * 60_000, [TOPIC, `a.${TOPIC}`])).toEqual([{ errors: 1, requests: 2 }]);
  });

  test("ids older than the window behind the task's latest event are forgotten (a copy that late counts again)", () => {
    const task = new ShardRuntime(twoRegions.runtime, [], 0);
    feed(task, [repartitioned(TOPIC, 0, "old", 200, t0)], []);
    task.takeChanges();
    // Event time moves on to 1.8 h: ids before 0.8 h ("old") are pruned, "recent" (1 h) is kept.
    feed(task, [repartitioned(TOPIC, 1, "recent", 200, t0 + HOUR), repartitioned(TOPIC, 2, "later", 200, t0 + 1.8 * HOUR)], []);
    const changes = task.takeChanges().filter(([store]) => store === EVENT_IDS_STORE);
    expect(changes).toContainEqual([EVENT_IDS_STORE, "old", null]);
    expect(changes.filter(([, key, value]) => key === "recent" && value === null)).toEqual([]);
  });
});
