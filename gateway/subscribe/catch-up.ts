/**
 * A subscriber's own read of a topic from given offsets, until it has caught up with the shared
 * tail (the subscription decides when, and stops it). read_committed, like the tail.
 */
import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import { tailRecordOf, type TailRecord } from "./topic-tail.js";

export type CatchUpHandler = {
  onRecords(partition: number, records: readonly TailRecord[], readAtMs: number): void;
  /** The read reached the end of `partition` (possibly past transaction markers): `next` is where it stands. */
  onEnd(partition: number, next: number): void;
  onError(err: unknown): void;
};

export async function startCatchUp(kafka: Kafka, topic: string, from: readonly number[], handler: CatchUpHandler): Promise<{ stop(): Promise<void> }> {
  const consumer = kafka.consumer({ groupId: `weir-catchup-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 50 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const position = [...from];
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (BigInt(e.payload.offsetLag) <= 0n) handler.onEnd(e.payload.partition, Math.max(position[e.payload.partition] ?? 0, Number(e.payload.lastOffset) + 1));
  });
  consumer.on(consumer.events.CRASH, (e) => handler.onError(e.payload.error));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const p = batch.partition;
      const records = batch.messages.filter((m) => Number(m.offset) >= position[p]!).map((m) => tailRecordOf(p, m));
      if (records.length > 0) {
        position[p] = records[records.length - 1]!.offset + 1;
        handler.onRecords(p, records, Date.now());
      }
    },
  });
  for (let p = 0; p < from.length; p++) consumer.seek({ topic, partition: p, offset: String(from[p]) });
  return { stop: () => consumer.disconnect().catch(() => {}) };
}
