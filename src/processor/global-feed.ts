/**
 * The global-table inputs of a job (reference data, quotes): every processor instance reads every
 * partition of these topics, from the beginning, outside any consumer group. No offsets are
 * committed for them: each task records the last offset it applied per source in its own
 * changelogged state, so what a task has seen survives crashes and moves with the task.
 *
 * `start()` resolves once the feed has handed over everything that was in the topics when it
 * started (Kafka Streams' global-store bootstrap): a job then never processes a trade against
 * reference data that was already published but not yet read.
 */
import { randomUUID } from "node:crypto";
import type { Consumer, Kafka } from "kafkajs";
import { rawRecordOf } from "./raw-records.js";
import type { RawRecord } from "./thread-messages.js";

export type GlobalBatch = {
  /** "topic/partition". */
  readonly source: string;
  readonly lastOffset: number;
  readonly records: RawRecord[];
};

export class GlobalFeed {
  private consumer: Consumer | undefined;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: readonly string[],
    private readonly accepts: (type: string) => boolean,
    /** Awaited before the next batch: the feed never runs ahead of its consumer. */
    private readonly onBatch: (batch: GlobalBatch) => Promise<void>,
    /** Called with the feed's consumer before it runs (the processor watches it for crashes). */
    private readonly supervise?: (consumer: Consumer) => void,
  ) {}

  async start(timeoutMs = 120_000): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    const pending = new Map<string, number>();
    try {
      for (const topic of this.topics) {
        for (const o of await admin.fetchTopicOffsets(topic)) if (BigInt(o.high) > BigInt(o.low)) pending.set(`${topic}/${o.partition}`, Number(o.high) - 1);
      }
    } finally {
      await admin.disconnect();
    }
    const consumer = (this.consumer = this.kafka.consumer({
      groupId: `weir-global-${randomUUID()}`,
      maxWaitTimeInMs: 100,
      retry: { restartOnFailure: () => Promise.resolve(!this.closed) },
    }));
    this.supervise?.(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.topics], fromBeginning: true });
    let bootstrapped: () => void = () => {};
    const caughtUp = new Promise<void>((resolve) => (bootstrapped = resolve));
    const reached = (source: string, offset: number) => {
      const end = pending.get(source);
      if (end !== undefined && offset >= end) pending.delete(source);
      if (pending.size === 0) bootstrapped();
    };
    reached("", 0);
    // A compacted partition may end below its high watermark - 1: the fetch's lag says so.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      if (BigInt(e.payload.offsetLag) <= 0n) reached(`${e.payload.topic}/${e.payload.partition}`, Number.MAX_SAFE_INTEGER);
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const source = `${batch.topic}/${batch.partition}`;
        const records: RawRecord[] = [];
        for (const m of batch.messages) {
          const r = rawRecordOf(m, batch.topic, batch.partition, this.accepts, true);
          if (r) records.push(r);
        }
        const lastOffset = Number(batch.lastOffset());
        await this.onBatch({ source, lastOffset, records });
        reached(source, lastOffset);
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      caughtUp,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`global topics ${this.topics.join(", ")}: bootstrap did not finish`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.consumer?.disconnect().catch(() => {});
  }
}
