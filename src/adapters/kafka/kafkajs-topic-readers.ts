/**
 * The subscriptions' TopicReaders port on kafkajs (see src/subscribe/ports.ts):
 * - a live tail per topic, shared by every subscriber of the streams on it: it starts at the
 *   topic's end (the last stable offset, read_committed, so results of open transactions come
 *   when they commit) and hands each fetched batch to its listeners, with the partition's next
 *   offset after it. Fan-out is then in memory: one Kafka read serves any number of subscribers;
 * - a subscriber's own catch-up read from given offsets, until the hub hands it over to the tail;
 * - a topic's offsets (oldest kept, end, first at a time).
 */
import { randomUUID } from "node:crypto";
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import { lazyAdmin } from "./lazy-admin.js";
import type { CatchUpHandler, TailListener, TailRecord, TopicOffsets, TopicReaders, TopicTail } from "../../subscribe/ports.js";

export function kafkajsTopicReaders(kafka: Kafka): TopicReaders {
  // One admin connection for every subscriber's start: a gateway SIGTERMed with 100 subscribers
  // sends them all to another at once, and an admin per subscriber (100 connects) stalled a third
  // of them for over a minute.
  const admin = lazyAdmin(kafka);
  return {
    openTail: (topic) => openKafkajsTail(kafka, topic),
    startCatchUp: (topic, from, handler) => startCatchUp(kafka, topic, from, handler),
    offsets: async (topic, partitions, atTimestampMs) => topicOffsets(await admin.get(), topic, partitions, atTimestampMs),
    close: () => admin.close(),
  };
}

async function topicOffsets(admin: Admin, topic: string, partitions: number, atTimestampMs?: number): Promise<TopicOffsets> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const low = new Array<number>(partitions).fill(0);
  const high = new Array<number>(partitions).fill(0);
  for (const o of offsets) {
    low[o.partition] = Number(o.low);
    high[o.partition] = Number(o.high);
  }
  if (atTimestampMs === undefined) return { low, high };
  const at = await admin.fetchTopicOffsetsByTimestamp(topic, atTimestampMs);
  const atTime = Array.from({ length: partitions }, (_, p) => Number(at.find((x) => x.partition === p)?.offset ?? -1));
  return { low, high, atTime };
}

function headersOf(m: KafkaMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first.toString("utf8") : String(first);
  }
  return out;
}

function tailRecordOf(partition: number, m: KafkaMessage): TailRecord {
  return {
    partition,
    offset: Number(m.offset),
    key: m.key?.toString("utf8") ?? "",
    value: m.value ?? Buffer.alloc(0),
    timestampMs: Number(m.timestamp),
    headers: headersOf(m),
  };
}

/**
 * A live tail of `topic` from `from` (per partition), or from the topic's end (the last stable
 * offsets, read_committed) when `from` is not given. (The tail thread reopens a tail where the
 * gateway stood when the thread had to be restarted.)
 */
export function openKafkajsTail(kafka: Kafka, topic: string, from?: readonly number[]): Promise<TopicTail> {
  return KafkajsTopicTail.open(kafka, topic, from);
}

class KafkajsTopicTail implements TopicTail {
  private readonly listeners = new Set<TailListener>();
  private consumer: Consumer | undefined;

  private constructor(
    readonly topic: string,
    /** Next offset to dispatch, per partition. */
    readonly next: number[],
  ) {}

  static async open(kafka: Kafka, topic: string, from?: readonly number[]): Promise<KafkajsTopicTail> {
    if (from) {
      const tail = new KafkajsTopicTail(topic, [...from]);
      await tail.start(kafka);
      return tail;
    }
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
    const tail = new KafkajsTopicTail(topic, next);
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
      // Listeners take the records at once; one that returns a promise holds the next batch back.
      eachBatch: async ({ batch }) => {
        const p = batch.partition;
        const readAtMs = Date.now();
        // Only what lies at or after the dispatch position (a fetch issued before a seek took effect may repeat some).
        const records = batch.messages.filter((m) => Number(m.offset) >= this.next[p]!).map((m) => tailRecordOf(p, m));
        const next = Math.max(this.next[p]!, Number(batch.lastOffset()) + 1);
        this.next[p] = next;
        if (records.length === 0 && batch.messages.length > 0) return;
        const held: Array<Promise<void>> = [];
        for (const l of [...this.listeners]) {
          const taken = l.onRecords(p, records, next, readAtMs);
          if (taken) held.push(taken);
        }
        if (held.length > 0) await Promise.all(held);
      },
    });
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.consumer?.disconnect().catch(() => {});
  }
}

async function startCatchUp(kafka: Kafka, topic: string, from: readonly number[], handler: CatchUpHandler): Promise<{ stop(): Promise<void> }> {
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
    eachBatch: async (payload) => {
      const { batch } = payload;
      const p = batch.partition;
      const records = batch.messages.filter((m) => Number(m.offset) >= position[p]!).map((m) => tailRecordOf(p, m));
      if (records.length > 0) {
        position[p] = records[records.length - 1]!.offset + 1;
        const taken = handler.onRecords(p, records, Date.now());
        if (taken) await withHeartbeats(taken, payload);
      }
    },
  });
  return { stop: () => consumer.disconnect().catch(() => {}) };
}

/** Waits for `work`, heartbeating meanwhile: a subscriber may take longer than the group's session timeout. */
async function withHeartbeats(work: Promise<void>, consumer: Pick<EachBatchPayload, "heartbeat">): Promise<void> {
  let done = false;
  const watched = work.finally(() => (done = true));
  while (!done) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([watched, new Promise((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    if (!done) await consumer.heartbeat().catch(() => {});
  }
  await watched;
}
