/**
 * One transactional producer per task (input partition), as Kafka Streams did before KIP-447:
 * the transactionalId names the task, not the instance (decision 0007). Whichever instance owns a
 * partition opens its producer, and opening it fences every earlier owner: a zombie's next
 * transaction fails, and its open transaction is aborted at once, so read_committed readers of
 * the changelog and results are not blocked until the transaction timeout.
 *
 * Fencing is not enough on its own (kafkajs has no KIP-447 generation check on sendOffsets): the
 * new owner's consumer may have read its start offset before the old owner's last transaction
 * committed, and would process that batch again. So once a producer is open (no earlier owner
 * can commit any more), `afterFence` reads the committed offset again; the owner skips what lies
 * below it (FencedOffsets).
 */
import { Partitioners, type Kafka, type Message, type Producer, type RecordMetadata } from "kafkajs";

export type TaskCommit = {
  readonly topicMessages: ReadonlyArray<{ readonly topic: string; readonly messages: Message[] }>;
  /** Consumed offsets committed in the same transaction (the next offset to read). */
  readonly offsets?: { readonly groupId: string; readonly topic: string; readonly offset: string };
};

export class TaskProducers {
  private readonly producers = new Map<number, Producer>();
  private readonly opening = new Map<number, Promise<void>>();

  constructor(
    private readonly kafka: Kafka,
    /** The consumer group: tasks of different groups never fence each other. */
    private readonly prefix: string,
    /** Runs once a task's producer has fenced its earlier owners, before the task counts as open. */
    private readonly afterFence?: (partition: number) => Promise<void>,
  ) {}

  transactionalId(partition: number): string {
    return `${this.prefix}-${partition}`;
  }

  /** The tasks whose producers are open here. */
  openPartitions(): Iterable<number> {
    return this.producers.keys();
  }

  /**
   * Opens (and fences the previous owners of) the producers of these tasks. Safe to call again and
   * concurrently: a task being opened is waited for, never opened twice (a second producer with
   * the same transactional id would fence the first, ours).
   */
  async open(partitions: readonly number[]): Promise<void> {
    await Promise.all(partitions.map((p) => this.opening.get(p) ?? (this.producers.has(p) ? Promise.resolve() : this.openOne(p))));
  }

  private openOne(p: number): Promise<void> {
    const opening = (async () => {
      const producer = this.kafka.producer({
        transactionalId: this.transactionalId(p),
        idempotent: true,
        maxInFlightRequests: 1,
        // Records carry their partition or a key for Kafka's default (murmur2) partitioner.
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      // InitProducerId happens on the first transaction: start one and end it empty, now.
      const fence = await producer.transaction();
      await fence.abort();
      try {
        await this.afterFence?.(p);
      } catch (err) {
        await producer.disconnect().catch(() => {});
        throw err;
      }
      this.producers.set(p, producer);
    })().finally(() => this.opening.delete(p));
    this.opening.set(p, opening);
    return opening;
  }

  /**
   * One transaction on the task's producer; aborted (and rethrown) on any failure. Answers, per
   * "topic/partition" its records were sent to by explicit partition, the offset after the last.
   */
  async commit(partition: number, work: TaskCommit): Promise<Map<string, number>> {
    const producer = this.producers.get(partition);
    if (!producer) throw new Error(`no producer for task ${partition}: not restored here`);
    const topicMessages = work.topicMessages.filter((t) => t.messages.length > 0);
    const ends = new Map<string, number>();
    if (topicMessages.length === 0 && !work.offsets) return ends;
    const tx = await producer.transaction();
    try {
      for (const chunk of sendChunks(topicMessages, MAX_MESSAGES_PER_SEND)) {
        const written = await tx.sendBatch({ topicMessages: chunk, acks: -1 });
        for (const [at, end] of endOffsets(chunk, written)) ends.set(at, Math.max(ends.get(at) ?? 0, end));
        const missing = unconfirmedPartitions(chunk, written);
        // kafkajs has resolved a send during a leader change without writing every partition's
        // records (the chaos suite: a committed transaction whose records are nowhere in the log,
        // not even aborted). Committing it would lose them: abort, and the batch is read again.
        if (missing.length > 0) throw new Error(`Kafka confirmed no write for ${missing.join(", ")}; aborting the transaction`);
      }
      if (work.offsets) {
        const { groupId, topic, offset } = work.offsets;
        await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition, offset }] }] });
      }
      await tx.commit();
      return ends;
    } catch (err) {
      await tx.abort().catch(() => {});
      throw err;
    }
  }

  async close(partitions: readonly number[] = [...this.producers.keys()]): Promise<void> {
    await Promise.all(
      partitions.map(async (p) => {
        const producer = this.producers.get(p);
        this.producers.delete(p);
        await producer?.disconnect().catch(() => {});
      }),
    );
  }
}

/**
 * kafkajs groups a send's records by partition by copying the group's array for every record
 * (groupMessagesPerPartition), quadratic in the records per partition: one send of a 4 MiB batch
 * (~30,000 re-keyed records) spent a third of the processor's CPU there. Sends of at most this
 * many records, one after another in the same transaction, keep that cost linear.
 */
export const MAX_MESSAGES_PER_SEND = 1000;

/** `topicMessages` cut, in order, into sends of at most `max` records (a topic may span several). */
export function sendChunks<M>(
  topicMessages: ReadonlyArray<{ readonly topic: string; readonly messages: readonly M[] }>,
  max: number,
): Array<Array<{ topic: string; messages: M[] }>> {
  const chunks: Array<Array<{ topic: string; messages: M[] }>> = [];
  let current: Array<{ topic: string; messages: M[] }> = [];
  let size = 0;
  for (const { topic, messages } of topicMessages) {
    for (let i = 0; i < messages.length; ) {
      if (size === max) {
        chunks.push(current);
        current = [];
        size = 0;
      }
      const take = messages.slice(i, i + (max - size));
      current.push({ topic, messages: take });
      size += take.length;
      i += take.length;
    }
  }
  if (size > 0) chunks.push(current);
  return chunks;
}

/** Per "topic/partition" a send wrote to by explicit partition: the offset after its records there. */
export function endOffsets(
  sent: ReadonlyArray<{ readonly topic: string; readonly messages: readonly Message[] }>,
  written: readonly RecordMetadata[],
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of sent)
    for (const m of t.messages) if (m.partition !== undefined) counts.set(`${t.topic}/${m.partition}`, (counts.get(`${t.topic}/${m.partition}`) ?? 0) + 1);
  const ends = new Map<string, number>();
  for (const w of written) {
    const at = `${w.topicName}/${w.partition}`;
    const n = counts.get(at);
    if (n !== undefined && w.baseOffset !== undefined && w.errorCode === 0) ends.set(at, Number(w.baseOffset) + n);
  }
  return ends;
}

/**
 * The topic-partitions that records were sent to by explicit partition but that the send's result
 * does not confirm (absent, or with an error code). Records without a partition are left to the
 * partitioner and cannot be checked this way.
 */
export function unconfirmedPartitions(
  sent: ReadonlyArray<{ readonly topic: string; readonly messages: readonly Message[] }>,
  written: readonly RecordMetadata[],
): string[] {
  const confirmed = new Set(written.filter((w) => w.errorCode === 0).map((w) => `${w.topicName}/${w.partition}`));
  const missing = new Set<string>();
  for (const t of sent)
    for (const m of t.messages) if (m.partition !== undefined && !confirmed.has(`${t.topic}/${m.partition}`)) missing.add(`${t.topic}/${m.partition}`);
  return [...missing];
}
