/**
 * One live reader of a topic per gateway, shared by every subscriber of the streams on it: it
 * starts at the topic's end (the last stable offset, read_committed, so results of open
 * transactions come when they commit) and hands each fetched batch to its listeners, with the
 * partition's next offset after it. Fan-out is then in memory: one Kafka read serves any number
 * of subscribers.
 */
import { randomUUID } from "node:crypto";
import type { Consumer, Kafka, KafkaMessage } from "kafkajs";

export type TailRecord = {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: Buffer;
  readonly timestampMs: number;
  readonly headers: Readonly<Record<string, string>>;
};

export interface TailListener {
  /** Records of one partition in offset order; `next` is the partition's next offset after them. */
  onRecords(partition: number, records: readonly TailRecord[], next: number, readAtMs: number): void;
}

export function headersOf(m: KafkaMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first.toString("utf8") : String(first);
  }
  return out;
}

export function tailRecordOf(partition: number, m: KafkaMessage): TailRecord {
  return { partition, offset: Number(m.offset), key: m.key?.toString("utf8") ?? "", value: m.value ?? Buffer.alloc(0), timestampMs: Number(m.timestamp), headers: headersOf(m) };
}

export class TopicTail {
  private readonly listeners = new Set<TailListener>();
  private consumer: Consumer | undefined;

  private constructor(
    readonly topic: string,
    /** Next offset to dispatch, per partition. */
    readonly next: number[],
  ) {}

  static async open(kafka: Kafka, topic: string): Promise<TopicTail> {
    const admin = kafka.admin();
    await admin.connect();
    let ends: Array<{ partition: number; high: string }>;
    try {
      ends = await admin.fetchTopicOffsets(topic); // read_committed: the last stable offsets
    } finally {
      await admin.disconnect();
    }
    const next = new Array<number>(ends.length).fill(0);
    for (const e of ends) next[e.partition] = Number(e.high);
    const tail = new TopicTail(topic, next);
    await tail.start(kafka);
    return tail;
  }

  get partitions(): number {
    return this.next.length;
  }

  add(listener: TailListener): void {
    this.listeners.add(listener);
  }

  private async start(kafka: Kafka): Promise<void> {
    const consumer = (this.consumer = kafka.consumer({ groupId: `weir-tail-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 50, minBytes: 1 }));
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: false });
    // Start exactly at the offsets taken in open(), so a subscriber handed over from a catch-up
    // read finds no gap; and again from the dispatch position whenever the group is (re)joined.
    // (Fix: the seek used to follow run(). When the first join failed, kafkajs had already torn
    // the group down to restart it later, so the seek threw "Consumer group was not initialized,
    // consumer#run must be called first" and the subscriber was closed with 1011 — seen in
    // test/integration/subscribe-slow.test.ts; a restarted consumer would also have begun at the
    // latest offset, a silent gap. On GROUP_JOIN the seek is in place before the first fetch.)
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (let p = 0; p < this.next.length; p++) consumer.seek({ topic: this.topic, partition: p, offset: String(this.next[p]) });
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const p = batch.partition;
        const readAtMs = Date.now();
        // Only what lies at or after the dispatch position (a fetch issued before a seek took effect may repeat some).
        const records = batch.messages.filter((m) => Number(m.offset) >= this.next[p]!).map((m) => tailRecordOf(p, m));
        const next = Math.max(this.next[p]!, Number(batch.lastOffset()) + 1);
        this.next[p] = next;
        if (records.length === 0 && batch.messages.length > 0) return;
        for (const l of [...this.listeners]) l.onRecords(p, records, next, readAtMs);
      },
    });
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.consumer?.disconnect().catch(() => {});
  }
}
