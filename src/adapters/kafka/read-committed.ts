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
  opts: {
    partitions?: readonly number[];
    /**
     * Only these partitions ("topic/partition"), each from offset `from` through offset `to`
     * (inclusive): a catch-up read of records known to exist. Done at `to` or at the end.
     */
    ranges?: ReadonlyMap<string, { readonly from: number; readonly to: number }>;
    timeoutMs?: number;
    /** Awaited after each fetched batch's records were handed over: a reader that writes them somewhere slower holds the read back. */
    afterBatch?: () => Promise<void>;
  } = {},
): Promise<void> {
  const list = typeof topics === "string" ? [topics] : topics;
  const ranges = opts.ranges;
  const admin = kafka.admin();
  await admin.connect();
  // "topic/partition" of every partition still to read to its end.
  const pending = new Set<string>();
  // With ranges: where each partition of the topics starts (a range at its start, others at their end).
  const starts: Array<{ topic: string; partition: number; offset: string }> = [];
  try {
    for (const topic of list) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        const key = `${topic}/${o.partition}`;
        const wanted = ranges ? ranges.has(key) : opts.partitions === undefined || opts.partitions.includes(o.partition);
        if (wanted && BigInt(o.high) > BigInt(o.low)) pending.add(key);
        if (ranges) starts.push({ topic, partition: o.partition, offset: String(ranges.get(key)?.from ?? o.high) });
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (pending.size === 0) return;
  const wanted = new Set(pending);
  const done = (key: string, resolve: () => void, timer: NodeJS.Timeout): void => {
    if (!pending.delete(key) || pending.size > 0) return;
    clearTimeout(timer);
    resolve();
  };
  const consumer = kafka.consumer({ groupId: `weir-read-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...list], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${[...pending].join(", ")}: did not reach the end`)), opts.timeoutMs ?? 120_000);
      // Seek on every join, before the first fetch: the group exists then (seeking once
      // consumer.run() resolved fails if the first join crashed and the consumer is restarting,
      // and a restart would forget the seek).
      if (ranges) consumer.on(consumer.events.GROUP_JOIN, () => starts.forEach((s) => consumer.seek(s)));
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
        if (BigInt(e.payload.offsetLag) <= 0n) done(`${e.payload.topic}/${e.payload.partition}`, resolve, timer);
      });
      consumer
        .run({
          autoCommit: false,
          // onRecord takes each record at once; afterBatch, if any, before the next batch.
          eachBatch: async ({ batch }) => {
            const key = `${batch.topic}/${batch.partition}`;
            if (!wanted.has(key) || !pending.has(key)) return;
            const range = ranges?.get(key);
            for (const m of batch.messages) {
              const offset = Number(m.offset);
              if (range && offset < range.from) continue;
              if (range && offset > range.to) break;
              onRecord(batch.partition, m, batch.topic);
            }
            await opts.afterBatch?.();
            if (range && Number(batch.lastOffset()) >= range.to) done(key, resolve, timer);
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}
