/**
 * A subscriber's own read of a topic from given offsets, until it has caught up with the shared
 * tail (the subscription decides when, and stops it). read_committed, like the tail.
 */
import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import { tailRecordOf, type TailRecord } from "./topic-tail.js";

export type CatchUpHandler = {
  /** May return a promise: the read waits for it (the subscriber's pace) before going on. */
  onRecords(partition: number, records: readonly TailRecord[], readAtMs: number): void | Promise<void>;
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
  // kafkajs restarts after a retriable crash (the re-join re-seeks, below): only a final one fails the subscriber.
  consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) handler.onError(e.payload.error);
  });
  // From where the subscriber stands, on every (re)join (see TopicTail.start: a seek after run()
  // throws when the first join failed).
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (let p = 0; p < position.length; p++) consumer.seek({ topic, partition: p, offset: String(position[p]) });
  });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }) => {
      const p = batch.partition;
      const records = batch.messages.filter((m) => Number(m.offset) >= position[p]!).map((m) => tailRecordOf(p, m));
      if (records.length > 0) {
        position[p] = records[records.length - 1]!.offset + 1;
        const taken = handler.onRecords(p, records, Date.now());
        if (taken) await withHeartbeats(taken, heartbeat);
      }
    },
  });
  return { stop: () => consumer.disconnect().catch(() => {}) };
}

/** Waits for `work`, heartbeating meanwhile: a subscriber may take longer than the group's session timeout. */
async function withHeartbeats(work: Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
  let done = false;
  const watched = work.finally(() => (done = true));
  while (!done) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([watched, new Promise((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    if (!done) await heartbeat().catch(() => {});
  }
  await watched;
}
