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
 * The cap is per request: a request whose own range (from its own smallest event time per topic)
 * exceeds `maxRecords` records is refused alone (its events stay RETRY_AFTER: an event time far in
 * the past would otherwise make the gateway read a topic's history), and the scan goes on for the
 * others, over the union of their ranges (per topic no more than the cap: the widest range covers
 * the others). Each request is answered within `timeoutMs` of being made, whatever it waited for
 * (offsets, the scan before its own, the scan itself).
 */
import type { Kafka } from "kafkajs";
import type { PublishedLookup, PublishedQuery } from "../../ingest/ports.js";
import { headers } from "../../kafka-contract.js";
import { readCommitted } from "./read-committed.js";

export type KafkaPublishedLookupOptions = {
  /** Most records one request may need scanned (WEIR_DEDUP_VERIFY_MAX_RECORDS). */
  readonly maxRecords: number;
  /** How long one lookup may take, from the call to its answer (offsets and scan included). */
  readonly timeoutMs: number;
};

type Request = {
  readonly events: readonly PublishedQuery[];
  /** Per topic, the smallest event time this request asks about. */
  readonly since: ReadonlyMap<string, number>;
  /** When its answer is due (Date.now() ms). */
  readonly deadline: number;
  /** Answered (or timed out): later answers are ignored. */
  done: boolean;
  resolve(keys: Set<string>): void;
  reject(err: unknown): void;
};

/** One topic's offsets: per event time asked about, partition → offset for it; partition → high watermark. */
type TopicOffsets = { readonly starts: Map<number, Map<number, number>>; readonly highs: Map<number, number> };

/** ListOffsets requests in flight at once, per topic. */
const offsetConcurrency = 16;

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
      const since = new Map<string, number>();
      for (const e of events) since.set(e.topic, Math.min(e.timestampMs, since.get(e.topic) ?? Infinity));
      const { timeoutMs } = this.opts;
      const timer = setTimeout(() => request.reject(new Error(`looking up ${events.length} events in Kafka took more than ${timeoutMs} ms`)), timeoutMs);
      const request: Request = {
        events,
        since,
        deadline: Date.now() + timeoutMs,
        done: false,
        resolve: (keys) => {
          if (request.done) return;
          request.done = true;
          clearTimeout(timer);
          resolve(keys);
        },
        reject: (err) => {
          if (request.done) return;
          request.done = true;
          clearTimeout(timer);
          reject(err);
        },
      };
      this.queue.push(request);
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        // Requests that timed out while waiting are not scanned for.
        const requests = this.queue.filter((r) => !r.done);
        this.queue = [];
        if (requests.length === 0) continue;
        try {
          await this.scan(requests);
        } catch (err) {
          for (const r of requests) r.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Answers `requests`: each one whose own range exceeds the cap is refused alone; the others
   * share one scan of the union of their ranges. Ends by the latest of their deadlines.
   */
  private async scan(requests: readonly Request[]): Promise<void> {
    this.scans++;
    const deadline = Math.max(...requests.map((r) => r.deadline));
    const offsets = await beforeDeadline(this.offsets(requests), deadline, "reading offsets");

    // "topic/partition" → offsets from (first record at or after the oldest event time) to the high watermark - 1.
    const ranges = new Map<string, { from: number; to: number }>();
    const wanted = new Set<string>();
    const scanned: Request[] = [];
    for (const r of requests) {
      const own = rangesOf(r, offsets);
      let total = 0;
      for (const { from, to } of own.values()) total += to - from + 1;
      if (total > this.opts.maxRecords) {
        r.reject(
          new Error(`verifying ${r.events.length} events would scan ${total} Kafka records, more than WEIR_DEDUP_VERIFY_MAX_RECORDS=${this.opts.maxRecords}`),
        );
        continue;
      }
      scanned.push(r);
      for (const e of r.events) wanted.add(keyOf(e));
      for (const [key, range] of own) {
        const union = ranges.get(key);
        ranges.set(key, union ? { from: Math.min(union.from, range.from), to: Math.max(union.to, range.to) } : range);
      }
    }
    const found = new Set<string>();
    if (scanned.length > 0 && ranges.size > 0) {
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
        { ranges, timeoutMs: Math.max(1, deadline - Date.now()) },
      );
    }
    for (const r of scanned) r.resolve(new Set(r.events.map(keyOf).filter((k) => found.has(k))));
  }

  /** Per topic asked about: the offsets for each request's smallest event time, then the high watermarks. */
  private async offsets(requests: readonly Request[]): Promise<Map<string, TopicOffsets>> {
    const times = new Map<string, Set<number>>();
    for (const r of requests) {
      for (const [topic, timestampMs] of r.since) {
        let set = times.get(topic);
        if (!set) times.set(topic, (set = new Set()));
        set.add(timestampMs);
      }
    }
    const out = new Map<string, TopicOffsets>();
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const [topic, timestamps] of times) {
        const starts = new Map<number, Map<number, number>>();
        const pending = [...timestamps];
        for (let i = 0; i < pending.length; i += offsetConcurrency) {
          await Promise.all(
            pending.slice(i, i + offsetConcurrency).map(async (timestampMs) => {
              // kafkajs answers a partition without such a record (Kafka's -1) with its high watermark.
              const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
              starts.set(timestampMs, new Map(offsets.map((o) => [o.partition, Number(o.offset)])));
            }),
          );
        }
        // Read after the lookup began: a record acknowledged before that lies below these.
        const highs = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
        out.set(topic, { starts, highs });
      }
    } finally {
      await admin.disconnect();
    }
    return out;
  }
}

/** One request's ranges ("topic/partition" → from..to, inclusive), from its own smallest event time per topic. */
function rangesOf(r: Request, offsets: ReadonlyMap<string, TopicOffsets>): Map<string, { from: number; to: number }> {
  const ranges = new Map<string, { from: number; to: number }>();
  for (const [topic, timestampMs] of r.since) {
    const t = offsets.get(topic);
    for (const [partition, from] of t?.starts.get(timestampMs) ?? []) {
      const to = (t!.highs.get(partition) ?? 0) - 1;
      if (from < 0 || to < from) continue;
      ranges.set(`${topic}/${partition}`, { from, to });
    }
  }
  return ranges;
}

/** `p`, or a rejection once `deadline` (Date.now() ms) passes (p keeps running; its failure is then ignored). */
async function beforeDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} in Kafka did not finish in time`)), Math.max(0, deadline - Date.now()));
  });
  p.catch(() => {});
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function headerText(v: Buffer | string | Array<Buffer | string> | undefined): string | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}

function keyOf(e: PublishedQuery): string {
  return `${e.tenant}:${e.id}`;
}
