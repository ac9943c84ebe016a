/**
 * What subscriptions need from the event log, as ports: a shared live tail per topic, a
 * subscriber's own catch-up read, and a topic's offsets. The Kafka adapter
 * (src/adapters/kafka/kafkajs-topic-readers.ts) implements them; the hub and the subscriptions
 * know nothing of the Kafka client.
 */

/** One record as subscriptions see it. */
export type TailRecord = {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: Uint8Array;
  readonly timestampMs: number;
  readonly headers: Readonly<Record<string, string>>;
};

export interface TailListener {
  /**
   * Records of one partition in offset order; `next` is the partition's next offset after them.
   * A promise returned holds the tail's next batch back until it settles (the tail thread's bound).
   */
  onRecords(partition: number, records: readonly TailRecord[], next: number, readAtMs: number): void | Promise<void>;
}

/**
 * One live reader of a topic, shared by every subscriber of the streams on it: it starts at the
 * topic's end (the last stable offset, read_committed) and hands each fetched batch to its listeners.
 */
export interface TopicTail {
  readonly topic: string;
  /** Next offset to dispatch, per partition. */
  readonly next: readonly number[];
  readonly partitions: number;
  add(listener: TailListener): void;
  close(): Promise<void>;
}

export type CatchUpHandler = {
  /** May return a promise: the read waits for it (the subscriber's pace) before going on. */
  onRecords(partition: number, records: readonly TailRecord[], readAtMs: number): void | Promise<void>;
  /** The read reached the end of `partition` (possibly past transaction markers): `next` is where it stands. */
  onEnd(partition: number, next: number): void;
  onError(err: unknown): void;
};

/** Per partition: the oldest offset kept, the end, and (when asked) the first offset at or after a time (-1: none). */
export type TopicOffsets = { readonly low: number[]; readonly high: number[]; readonly atTime?: number[] };

export interface TopicReaders {
  openTail(topic: string): Promise<TopicTail>;
  /** A subscriber's own read from `from` (per partition), read_committed, until stopped. */
  startCatchUp(topic: string, from: readonly number[], handler: CatchUpHandler): Promise<{ stop(): Promise<void> }>;
  offsets(topic: string, partitions: number, atTimestampMs?: number): Promise<TopicOffsets>;
  /** Closes what the readers keep open between calls (after every tail and catch-up stopped). */
  close?(): Promise<void>;
}
