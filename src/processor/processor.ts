/**
 * The processor runtime (issue 4): one job as a Kafka consumer group, its engine tasks on Piscina
 * threads (ShardedEnginePool, decision 0006), and exactly-once output with Kafka transactions.
 *
 * Per fetched batch (one input partition): restore the partition's task from its changelog
 * partition if it has no state here yet, process the records, then ONE transaction holds the
 * results, the changelog changes and the consumer offsets. On any failure the transaction is
 * aborted, every task is dropped (its in-memory state is ahead of what was committed) and the
 * error is rethrown so kafkajs fetches again from the last processed offset; tasks are restored
 * from the changelog before they process again.
 *
 * First slice: jobs without broadcast inputs (error-rate, fraud). Jobs with global tables
 * (risk-limits) are refused: their tasks need the tables on every partition, which this runtime
 * does not provide yet.
 *
 * Known limits: kafkajs' sendOffsets carries only the group id (no generation / member id,
 * KIP-447), so a zombie instance with another transactionalId is not fenced by the group
 * coordinator; run one transactionalId per instance and restart with the same instanceId.
 */
import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type Producer, type Message } from "kafkajs";
import { SchemaRegistry } from "../schema/registry.js";
import { jobSpec, type JobSpec } from "./jobs.js";
import { ShardedEnginePool } from "./sharded-pool.js";
import type { RawRecord, StoreChange } from "./thread-messages.js";
import { readCommitted } from "./read-committed.js";

export type ProcessorOptions = {
  readonly brokers: readonly string[];
  readonly job: string;
  /** Worker threads (default 2). */
  readonly threads?: number;
  /** Consumer group (default `weir-processor-<job>`). */
  readonly groupId?: string;
  /** Stable id of this instance: part of the transactionalId, so a restart fences its predecessor. */
  readonly instanceId?: string;
  /**
   * Opt-in (default off): after each batch, advance every task to (the lowest highest-event-time
   * over ALL assigned partitions) minus this, so idle partitions' windows close. Off by default:
   * the pool can only advance every task of a thread at once, and in the integration test an early
   * version (min over the partitions seen so far) made a partition whose first batch came later
   * emit updates instead of finals. Without it each task's watermark follows its own records
   * (the operators' bounded out-of-orderness), which is correct but never closes idle partitions.
   */
  readonly watermarkLagMs?: number;
  readonly log?: (line: string) => void;
};

export const resultsTopic = (job: string): string => `weir.results.${job}`;
export const changelogTopic = (job: string): string => `weir.changelog.${job}`;
/** Changelog record key: store and key, NUL-separated. */
export const changelogKey = (store: string, key: string): string => `${store}\u0000${key}`;

const HEADER_TYPE = "weir.type";

function headerString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return headerString(v[0]);
  return Buffer.isBuffer(v) ? v.toString("utf8") : String(v);
}

export class Processor {
  private readonly spec: JobSpec;
  private readonly kafka: Kafka;
  private readonly groupId: string;
  private readonly instanceId: string;
  private readonly inputTopics: string[];
  private readonly results: string;
  private readonly changelog: string;
  private readonly log: (line: string) => void;
  private pool: ShardedEnginePool | undefined;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  /** Partitions whose task holds the committed state here (restored or created after restore). */
  private readonly restored = new Set<number>();
  /** Highest event time seen per partition since its restore. */
  private readonly maxEventTime = new Map<number, number>();
  private assigned: Set<number> | undefined;
  /** Serialises rebalance handling with batch processing. */
  private chain: Promise<void> = Promise.resolve();
  private partitions = 0;
  private closed = false;

  constructor(private readonly opts: ProcessorOptions) {
    this.spec = jobSpec(opts.job);
    const broadcast = Object.entries(this.spec.inputs).filter(([, i]) => i.broadcast).map(([t]) => t);
    if (broadcast.length > 0) {
      throw new Error(`job ${opts.job} has broadcast (global table) inputs ${broadcast.join(", ")}: not supported by the processor runtime yet`);
    }
    const registry = SchemaRegistry.builtin();
    this.inputTopics = [
      ...new Set(
        Object.keys(this.spec.inputs).map((type) => {
          const t = registry.eventType(type);
          if (!t) throw new Error(`job ${opts.job}: input type ${type} is not a built-in event type`);
          return t.topic;
        }),
      ),
    ];
    if (this.inputTopics.length !== 1) throw new Error(`job ${opts.job}: inputs on several topics are not supported yet`);
    this.partitions = Math.max(...Object.keys(this.spec.inputs).map((type) => registry.eventType(type)!.partitions));
    this.groupId = opts.groupId ?? `weir-processor-${opts.job}`;
    this.instanceId = opts.instanceId ?? randomUUID();
    this.results = resultsTopic(opts.job);
    this.changelog = changelogTopic(opts.job);
    this.log = opts.log ?? (() => {});
    this.kafka = new Kafka({ brokers: [...opts.brokers], clientId: `weir-processor-${opts.job}`, logLevel: logLevel.NOTHING });
  }

  get transactionalId(): string {
    return `weir-processor-${this.opts.job}-${this.instanceId}`;
  }

  async start(): Promise<void> {
    await this.ensureTopics();
    this.pool = new ShardedEnginePool({ job: this.opts.job, threads: this.opts.threads ?? 2 });
    this.producer = this.kafka.producer({ transactionalId: this.transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.consumer = this.kafka.consumer({ groupId: this.groupId, readUncommitted: false });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const mine = new Set<number>();
      for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) if (this.inputTopics.includes(topic)) for (const p of parts) mine.add(p);
      this.enqueue(async () => {
        const gone = [...this.restored].filter((p) => !mine.has(p));
        this.assigned = mine;
        if (gone.length > 0) await this.revoke(gone);
        this.log(`assigned partitions ${[...mine].sort((a, b) => a - b).join(",")}${gone.length ? `; revoked ${gone.join(",")}` : ""}`);
      });
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.inputTopics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.enqueue(() => this.handleBatch(payload)),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.consumer?.disconnect().catch(() => {});
    await this.chain.catch(() => {});
    await this.producer?.disconnect().catch(() => {});
    await this.pool?.close();
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => {});
    return run;
  }

  private async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const input = this.inputTopics[0]!;
      if (existing.has(input)) {
        const meta = await admin.fetchTopicMetadata({ topics: [input] });
        this.partitions = meta.topics[0]!.partitions.length;
      }
      const missing = [
        { topic: input, numPartitions: this.partitions },
        { topic: this.results, numPartitions: this.partitions },
        { topic: this.changelog, numPartitions: this.partitions, configEntries: [{ name: "cleanup.policy", value: "compact" }] },
      ].filter((t) => !existing.has(t.topic));
      if (missing.length > 0) {
        try {
          await admin.createTopics({ waitForLeaders: true, topics: missing });
        } catch (err) {
          // Another instance may have created them meanwhile.
          const now = new Set(await admin.listTopics());
          if (missing.some((t) => !now.has(t.topic))) throw err;
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const partition = batch.partition;
    const pool = this.pool!;
    let transaction: Awaited<ReturnType<Producer["transaction"]>> | undefined;
    try {
      if (!this.restored.has(partition)) {
        const wanted = new Set([partition, ...[...(this.assigned ?? [])].filter((p) => !this.restored.has(p))]);
        await this.restore([...wanted]);
        await heartbeat();
      }
      const records: RawRecord[] = [];
      let maxTs = this.maxEventTime.get(partition) ?? Number.NEGATIVE_INFINITY;
      for (const m of batch.messages) {
        const type = headerString(m.headers?.[HEADER_TYPE]);
        if (type === undefined || !this.spec.inputs[type]) continue;
        const timestampMs = Number(m.timestamp);
        records.push({ type, partition, key: m.key?.toString("utf8") ?? "", timestampMs, value: m.value ?? Buffer.alloc(0) });
        if (timestampMs > maxTs) maxTs = timestampMs;
      }
      if (maxTs > Number.NEGATIVE_INFINITY) this.maxEventTime.set(partition, maxTs);
      const watermark = this.idleWatermark();
      const threads = await pool.process(records, watermark);

      const resultMessages: Message[] = [];
      const changelogMessages: Message[] = [];
      for (const t of threads) {
        for (const o of t.outputs) {
          resultMessages.push({
            key: o.key,
            value: JSON.stringify(o.value),
            partition: o.partition,
            timestamp: String(o.timestampMs),
            headers: { "weir.stream": o.stream, "weir.job": this.opts.job },
          });
        }
        for (const c of t.changes) {
          for (const [store, key, value] of c.changes as StoreChange[]) {
            changelogMessages.push({ key: changelogKey(store, key), value: value === null ? null : JSON.stringify(value), partition: c.partition });
          }
        }
      }
      const next = (BigInt(batch.lastOffset()) + 1n).toString();
      transaction = await this.producer!.transaction();
      const topicMessages = [
        ...(resultMessages.length ? [{ topic: this.results, messages: resultMessages }] : []),
        ...(changelogMessages.length ? [{ topic: this.changelog, messages: changelogMessages }] : []),
      ];
      if (topicMessages.length > 0) await transaction.sendBatch({ topicMessages, acks: -1 });
      await transaction.sendOffsets({ consumerGroupId: this.groupId, topics: [{ topic: batch.topic, partitions: [{ partition, offset: next }] }] });
      await transaction.commit();
      transaction = undefined;
      resolveOffset(batch.lastOffset());
      await heartbeat();
    } catch (err) {
      this.log(`batch on partition ${partition} failed: ${(err as Error).message}`);
      if (transaction) await transaction.abort().catch(() => {});
      // Every task's in-memory state may be ahead of the changelog (the watermark reaches all of
      // them): drop them all; each is restored before it processes again.
      await this.revoke([...this.restored]).catch(() => {});
      throw err;
    }
  }

  private idleWatermark(): number | undefined {
    const lag = this.opts.watermarkLagMs;
    const parts = [...(this.assigned ?? [])];
    if (lag === undefined || parts.length === 0 || !parts.every((p) => this.restored.has(p) && this.maxEventTime.has(p))) return undefined;
    return Math.min(...parts.map((p) => this.maxEventTime.get(p)!)) - lag;
  }

  private async revoke(partitions: number[]): Promise<void> {
    for (const p of partitions) {
      this.restored.delete(p);
      this.maxEventTime.delete(p);
    }
    await this.pool?.revoke(partitions);
  }

  /** Rebuilds the tasks of `partitions` from their changelog partitions (read_committed, up to the stable end). */
  private async restore(partitions: number[]): Promise<void> {
    const started = Date.now();
    const entries = await readChangelog(this.kafka, this.changelog, partitions);
    for (const p of partitions) {
      const state = entries.get(p) ?? new Map<string, StoreChange>();
      await this.pool!.restore(p, [...state.values()]);
      this.restored.add(p);
      this.maxEventTime.delete(p);
    }
    this.log(`restored partitions ${partitions.join(",")} (${[...entries.values()].reduce((n, m) => n + m.size, 0)} entries) in ${Date.now() - started} ms`);
  }
}

/** The latest value per (store, key) of changelog partitions, tombstones removed. */
export async function readChangelog(kafka: Kafka, topic: string, partitions: readonly number[]): Promise<Map<number, Map<string, StoreChange>>> {
  const out = new Map<number, Map<string, StoreChange>>();
  await readCommitted(
    kafka,
    topic,
    (partition, m) => {
      let state = out.get(partition);
      if (!state) out.set(partition, (state = new Map()));
      const k = m.key?.toString("utf8") ?? "";
      const sep = k.indexOf("\u0000");
      if (sep < 0) return;
      if (m.value === null) state.delete(k);
      else state.set(k, [k.slice(0, sep), k.slice(sep + 1), JSON.parse(m.value.toString("utf8"))]);
    },
    { partitions },
  );
  return out;
}
