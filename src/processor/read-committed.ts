/**
 * Reads partitions of a topic to their end with read_committed, as topics written by Kafka
 * transactions need: the last offset of such a partition is usually a transaction marker, never
 * delivered as a record, so "end" is taken from the fetch responses (offset lag 0 — kafkajs reports
 * it for batches holding only control records or aborted data too), never from a record at
 * high watermark - 1. Used to restore changelog partitions, and by tests reading any topic back.
 */
import { randomUUID } from "node:crypto";
import type { Kafka, KafkaMessage } from "kafkajs";

export async function readCommitted(
  kafka: Kafka,
  topics: string | readonly string[],
  onRecord: (partition: number, message: KafkaMessage, topic: string) => void,
  opts: { partitions?: readonly number[]; timeoutMs?: number } = {},
): Promise<void> {
  const list = typeof topics === "string" ? [topics] : topics;
  const admin = kafka.admin();
  await admin.connect();
  // "topic/partition" of every partition still to read to its end.
  const pending = new Set<string>();
  try {
    for (const topic of list) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        if ((opts.partitions === undefined || opts.partitions.includes(o.partition)) && BigInt(o.high) > BigInt(o.low)) pending.add(`${topic}/${o.partition}`);
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (pending.size === 0) return;
  const wanted = new Set(pending);
  const consumer = kafka.consumer({ groupId: `weir-read-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...list], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${[...pending].join(", ")}: did not reach the end`)), opts.timeoutMs ?? 120_000);
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
        const key = `${e.payload.topic}/${e.payload.partition}`;
        if (pending.has(key) && BigInt(e.payload.offsetLag) <= 0n) {
          pending.delete(key);
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const key = `${batch.topic}/${batch.partition}`;
            if (!wanted.has(key) || !pending.has(key)) return;
            for (const m of batch.messages) onRecord(batch.partition, m, batch.topic);
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}
