/**
 * The raw Kafka limit: the gateway's own EventLog adapter (same client library, idempotent,
 * acks=all, group commit) publishing records shaped like the gateway's — same payloads, key and
 * headers — from `concurrency` concurrent publishers, with no WebSocket, validation or dedup.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { eventRecord } from "../../src/ingest/records.js";
import type { EventLog, OutRecord } from "../../src/ingest/ports.js";
import { frameFactory } from "./frames.js";

export type RawProducerResult = { recordsPerSec: number; recordBytes: number };

export async function rawProducerRate(
  log: EventLog,
  opts: { topic: string; durationMs: number; batch: number; concurrency: number; idPrefix: string },
): Promise<RawProducerResult> {
  await log.ensureTopics([{ topic: opts.topic, partitions: 6 }]);
  const frames = frameFactory(opts.idPrefix, opts.batch);
  const batch = fromBinary(ClientFrameSchema, frames.frame(0)).frame;
  if (batch.case !== "publish") throw new Error("unexpected frame");
  const records: OutRecord[] = batch.value.events.map((env) => eventRecord(opts.topic, "bench", env));
  const recordBytes = records.reduce((s, r) => s + r.value.byteLength, 0) / records.length;
  // Warm up the producer (metadata, producer id) outside the timed window.
  await log.publish(records.slice(0, 1));
  let published = 0;
  const started = performance.now();
  const stopAt = started + opts.durationMs;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < stopAt) {
        await log.publish(records);
        published += records.length;
      }
    }),
  );
  return { recordsPerSec: published / ((performance.now() - started) / 1000), recordBytes };
}
