/**
 * PublishedLookup on kafkajs: is the record of an event already in Kafka? Asked only for stale
 * dedup claims (a gateway died, or left a claim unconfirmed), never on the hot path.
 *
 * The gateway writes each event's record with timestamp = its event time, and a retry carries the
 * same envelope. Kafka's ListOffsets by timestamp gives, per partition, the earliest offset whose
 * record timestamp is >= the one asked (its time index is monotonic in the largest timestamp so
 * far). So per topic, from the offsets for the smallest event time asked about up to the current
 * high watermark - 1, the scan passes every record of those events that Kafka has acknowledged.
 * It matches the weir.id and weir.tenant headers. This relies on CreateTime topics (the
 * default, and what the gateway creates): with LogAppendTime the timestamps are not event times.
 *
 * Lookups are coalesced: while one scan runs, later requests wait and then share one scan (from
 * fresh offsets), so a burst of retries after a gateway died costs a few scans, not one each.
 * A scan above `maxRecords` records is refused: the events stay RETRY_AFTER (an event time far in
 * the past would otherwise make the gateway read a topic's history).
 */
import type { Kafka } from "kafkajs";
import type { PublishedLookup, PublishedQuery } from "../../ingest/ports.js";
import { headers } from "../../ingest/records.js";
import { readCommitted } from "../../processor/read-committed.js";

export type KafkaPublishedLookupOptions = {
  /** Most records one scan may read (WEIR_DEDUP_VERIFY_MAX_RECORDS). */
  readonly maxRecords: number;
  /** How long one scan may take before the lookup fails. */
  readonly timeoutMs: number;
};

type Request = { readonly events: readonly PublishedQuery[]; resolve(keys: Set<string>): void; reject(err: unknown): void };

export class KafkaPublishedLookup implements PublishedLookup {
  private queue: Request[] = [];
  private running = false;
  /** Scans run so far (for tests and logs). */
  scans = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: KafkaPublishedLookupOptions,
  ) {}

  find(events: readonly PublishedQuery[]): Promise<Set<string>> {
    if (events.length === 0) return Promise.resolve(new Set());
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const requests = this.queue;
        this.queue = [];
        try {
          const found = await this.scan(requests.flatMap((r) => r.events));
          for (const r of requests) r.resolve(new Set(r.events.map(keyOf).filter((k) => found.has(k))));
        } catch (err) {
          for (const r of requests) r.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** The `tenant:id` keys of `events` found in their topics. */
  private async scan(events: readonly PublishedQuery[]): Promise<Set<string>> {
    this.scans++;
    const wanted = new Set(events.map(keyOf));
    const since = new Map<string, number>();
    for (const e of events) since.set(e.topic, Math.min(e.timestampMs, since.get(e.topic) ?? Infinity));

    // "topic/partition" → offsets from (first record at or after the oldest event time) to the high watermark - 1.
    const ranges = new Map<string, { from: number; to: number }>();
    let total = 0;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const [topic, timestampMs] of since) {
        // kafkajs answers a partition without such a record (Kafka's -1) with its high watermark.
        const starts = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
        const ends = await admin.fetchTopicOffsets(topic);
        for (const { partition, offset } of starts) {
          const high = ends.find((o) => o.partition === partition);
          const from = Number(offset);
          const to = Number(high?.high ?? -1) - 1;
          // A record acknowledged before this lookup began lies below the high watermark read after it.
          if (from < 0 || to < from) continue;
          ranges.set(`${topic}/${partition}`, { from, to });
          total += to - from + 1;
        }
      }
    } finally {
      await admin.disconnect();
    }
    if (total > this.opts.maxRecords) {
      throw new Error(`verifying ${events.length} events would scan ${total} Kafka records, more than WEIR_DEDUP_VERIFY_MAX_RECORDS=${this.opts.maxRecords}`);
    }
    const found = new Set<string>();
    if (ranges.size === 0) return found;
    const topics = [...new Set([...ranges.keys()].map((k) => k.slice(0, k.lastIndexOf("/"))))];
    await readCommitted(
      this.kafka,
      topics,
      (_partition, m) => {
        const id = headerText(m.headers?.[headers.id]);
        const tenant = headerText(m.headers?.[headers.tenant]);
        if (id === undefined || tenant === undefined) return;
        const key = `${tenant}:${id}`;
        if (wanted.has(key)) found.add(key);
      },
      { ranges, timeoutMs: this.opts.timeoutMs },
    );
    return found;
  }
}

function headerText(v: Buffer | string | Array<Buffer | string> | undefined): string | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}

function keyOf(e: PublishedQuery): string {
  return `${e.tenant}:${e.id}`;
}
