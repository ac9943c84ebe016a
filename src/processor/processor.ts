/**
 * The processor runtime: one job as a Kafka consumer group, its engine tasks on Piscina
 * threads (ShardedEnginePool, decision 0006), and exactly-once output with Kafka transactions.
 *
 * A task is the job on one input partition. Per fetched batch of partition p: restore p's task
 * from its changelog partition if it has no state here yet, process the records, then ONE
 * transaction on p's own producer (TaskProducers, decision 0007) holds the results, the alerts,
 * p's changelog changes and the consumer offset. Tasks touched by the same step through a
 * watermark or a global-table record commit their own transactions alongside. On any failure the
 * transactions are aborted, every task is dropped (its in-memory state may be ahead of what was
 * committed) and the error is rethrown, so kafkajs fetches again from the last committed offset;
 * tasks are restored from the changelog before they process again.
 *
 * Global-table inputs (the risk job's reference data and quotes) come through a GlobalFeed that
 * every instance reads in full; each task remembers the offset it applied per source in its
 * changelogged state and, when restored, catches up from there to where the feed is.
 */
import { kafkajsSecurity } from "../adapters/kafka/kafka-security.js";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Kafka, logLevel, type Consumer, type EachBatchPayload } from "kafkajs";
import { kafkaLogCreator } from "../adapters/kafka/kafkajs-logs.js";
import { DependencyProbes } from "../health/dependency-probes.js";
import { probeGroup } from "./lag.js";
import { ProgressWatch, overdueStep, restartDelayMs, type GroupProbe } from "./progress-watch.js";
import { ensureTopicsWithKafkajs } from "../adapters/kafka/kafkajs-topics.js";
import { ALERTS_TOPIC, ALERTS_TOPIC_PARTITIONS, changelogTopic, repartitionTopic, resultsTopic } from "../kafka-contract.js";
import { JOB_IDENTITY_STORE, type RuntimeJob } from "../jobs/runtime-job.js";
import { GlobalFeed, type GlobalBatch } from "./global-feed.js";
import { rawRecordOf } from "./raw-records.js";
import { Repartitioner } from "./repartitioner.js";
import { changelogKey, taskMessages } from "./task-messages.js";
import { readCommitted } from "../adapters/kafka/read-committed.js";
import { GLOBAL_POSITIONS_STORE, TASK_PROGRESS_KEY, WATERMARK_MARKER_TYPE, type TaskProgress } from "./shard-runtime.js";
import { ShardedEnginePool, type ThreadResults } from "./sharded-pool.js";
import { TaskProducers } from "./task-producers.js";
import { ProcessSpans } from "./process-spans.js";
import { DEFAULT_SUPERVISION, fetchBytes, type ProcessorOptions, type Supervision } from "./processor-options.js";
export { DEFAULT_SUPERVISION, type ProcessorOptions, type Supervision } from "./processor-options.js";
import { restoreInMemory, restoreOnDisk } from "./task-restore.js";
import { lockStateDir } from "../adapters/state/state-dir-lock.js";
import { raceTimeout } from "../deadline.js";
import { FencedOffsets } from "./fenced-offsets.js";
import { lazyAdmin, type LazyAdmin } from "../adapters/kafka/lazy-admin.js";
import type { RawRecord } from "./thread-messages.js";

export class Processor {
  private readonly spec: RuntimeJob;
  private readonly kafka: Kafka;
  private readonly groupId: string;
  private readonly instanceId: string;
  /** The topic of the job's partitioned input: its partitions are the tasks. */
  private readonly inputTopic: string;
  /** Topics of the global-table inputs, read in full by every instance. */
  private readonly globalTopics: string[];
  private readonly results: string;
  private readonly changelog: string;
  private readonly log: (line: string) => void;
  private readonly producers: TaskProducers;
  /** The repartition step, when the job keys its input unlike its producers. */
  private repartitioner: Repartitioner | undefined;
  private pool: ShardedEnginePool | undefined;
  private consumer: Consumer | undefined;
  private feed: GlobalFeed | undefined;
  /** Partitions whose task holds the committed state here (restored or created after restore). */
  private readonly restored = new Set<number>();
  /** Highest event time seen per partition since its restore. */
  private readonly maxEventTime = new Map<number, number>();
  /** Per partition task, when (wall clock) its last records arrived: idle partitions' watermarks follow the clock. */
  private readonly lastRecordAt = new Map<number, number>();
  private idleTimer: ReturnType<typeof setInterval> | undefined;
  private watchTimer: ReturnType<typeof setInterval> | undefined;
  /** Per global source ("topic/partition"), the last offset handed to the tasks here. */
  private readonly globalPositions = new Map<string, number>();
  private assigned: Set<number> | undefined;
  /** Serialises rebalance handling, global records and batch processing. */
  private chain: Promise<void> = Promise.resolve();
  private partitions = 0;
  private closed = false;
  private readonly supervision: Supervision;
  /** Reads the group's lag and members from the broker; its failures are Kafka outages. */
  private readonly probes: DependencyProbes;
  private readonly admin: LazyAdmin;
  private readonly fenced: FencedOffsets;
  private latestProbe: { input?: GroupProbe; repartition?: GroupProbe } = {};
  private readonly watch: { input: ProgressWatch; repartition: ProgressWatch };
  /** Bumped by every restart: listeners of an earlier consumer ignore what it says afterwards. */
  private generation = 0;
  private runtimeStartedAt = Date.now();
  private memberId: string | undefined;
  private lastProgressAt: number | undefined;
  /** When the step running on the chain started, and whether it restores state. */
  private busySince: number | undefined;
  private restoring = false;
  private restarting: Promise<void> | undefined;
  /** Restarts since the last committed step. */
  private failedRestarts = 0;
  private fatal: Error | undefined;
  /** Disk state: this process's hold on the job's state directory. */
  private stateLock: { release(): void } | undefined;
  /** Disk state: writes of committed steps still running (close waits for them). */
  private readonly diskWrites = new Set<Promise<void>>();
  private readonly counters = { records: 0, outputs: new Map<string, number>(), last: new Map<string, unknown>() };

  constructor(private readonly opts: ProcessorOptions) {
    const job = (this.spec = opts.job);
    this.groupId = opts.groupId ?? `weir-processor-${job.name}`;
    // A job keyed unlike its producers (or reading streams of several topics) reads its own
    // repartition topic, written by its repartition step; otherwise the one stream topic itself.
    if (!job.repartition && job.streamTopics.length !== 1)
      throw new Error(`job ${job.name}: needs exactly one partitioned input topic, has ${job.streamTopics.join(", ") || "none"}`);
    this.inputTopic = job.repartition ? repartitionTopic(this.groupId) : job.streamTopics[0]!;
    this.globalTopics = [...job.tableTopics];
    this.partitions = job.partitions;
    this.instanceId = opts.instanceId ?? randomUUID();
    this.results = resultsTopic(job.name);
    this.changelog = changelogTopic(this.groupId);
    this.log = opts.log ?? (() => {});
    this.kafka = new Kafka({
      brokers: [...opts.brokers],
      clientId: `weir-processor-${job.name}-${this.instanceId}`,
      ...kafkajsSecurity(opts.security),
      ...(opts.logger ? { logLevel: logLevel.WARN, logCreator: kafkaLogCreator(opts.logger) } : { logLevel: logLevel.NOTHING }),
    });
    this.admin = lazyAdmin(this.kafka);
    this.fenced = new FencedOffsets(() => this.admin.get(), this.groupId);
    this.producers = new TaskProducers(this.kafka, this.groupId, (p) => this.fenced.fence(this.inputTopic, p));
    this.supervision = { ...DEFAULT_SUPERVISION, ...opts.supervision };
    this.watch = { input: new ProgressWatch(this.supervision), repartition: new ProgressWatch(this.supervision) };
    const logger = opts.logger;
    this.probes = new DependencyProbes([{ name: "kafka", check: () => this.probeGroups() }], {
      intervalMs: this.supervision.intervalMs,
      deadlineMs: this.supervision.probeDeadlineMs,
      log: {
        down: (dependency, reason) => logger?.error({ job: job.name, dependency, reason }, `${dependency} unreachable`),
        up: (dependency, downForMs) => logger?.warn({ job: job.name, dependency, downForMs }, `${dependency} reachable again`),
      },
    });
  }

  private readonly isPartitionedInput = (type: string): boolean => this.spec.isStream(type);
  private readonly isGlobalInput = (type: string): boolean => this.spec.isTable(type);

  get job(): string {
    return this.spec.name;
  }

  get consumerGroup(): string {
    return this.groupId;
  }

  /** Committed work of this instance: input records, outputs by stream and the latest output of each stream. */
  stats(): { records: number; outputs: Record<string, number>; latest: Record<string, unknown> } {
    return { records: this.counters.records, outputs: Object.fromEntries(this.counters.outputs), latest: Object.fromEntries(this.counters.last) };
  }

  /** Per global source ("topic/partition"), the last offset applied by the tasks here. */
  globalProgress(): ReadonlyMap<string, number> {
    return new Map(this.globalPositions);
  }

  /**
   * live: the process should keep running (false once fatal); ready: Kafka answers and the
   * processor is not restarting. `kafka` is the latest broker probe.
   */
  health(): { live: boolean; ready: boolean; kafka: boolean; restarts: number } {
    const kafka = this.probes.allUp;
    return { live: !this.fatal, ready: !this.fatal && !this.restarting && kafka, kafka, restarts: this.failedRestarts };
  }

  async start(): Promise<void> {
    await this.ensureTopics();
    const stateDir = this.opts.stateDir ? join(this.opts.stateDir, encodeURIComponent(this.groupId)) : undefined;
    if (stateDir) this.stateLock = lockStateDir(stateDir);
    this.pool = new ShardedEnginePool({
      job: this.spec,
      module: this.opts.module,
      threads: this.opts.threads ?? 2,
      ...(this.opts.schemaImage ? { schemaImage: this.opts.schemaImage } : {}),
      ...(this.opts.tracing ? { tracing: this.opts.tracing } : {}),
      ...(stateDir ? { stateDir } : {}),
    });
    await this.startRuntime();
    await this.probes.start();
    this.watchTimer = setInterval(() => this.judge(), this.supervision.intervalMs);
    this.watchTimer.unref?.();
  }

  /** The consumers (repartition step, global feed, the job's group) and the idle timer; restarted as one. */
  private async startRuntime(): Promise<void> {
    const generation = ++this.generation;
    this.runtimeStartedAt = Date.now();
    this.memberId = undefined;
    const sessionTimeout = this.opts.sessionTimeoutMs ?? 10_000;
    if (this.spec.repartition) {
      this.repartitioner = new Repartitioner(this.kafka, {
        job: this.spec,
        groupId: `${this.groupId}.repartition`,
        topic: this.inputTopic,
        partitions: this.partitions,
        sessionTimeoutMs: sessionTimeout,
        ...(this.opts.sourceIdleMs !== undefined ? { sourceIdleMs: this.opts.sourceIdleMs } : {}),
        log: this.log,
        supervise: (c) => this.superviseConsumer(c, "repartition consumer", generation),
      });
      await this.repartitioner.start();
    }
    if (this.globalTopics.length > 0) {
      this.feed = new GlobalFeed(
        this.kafka,
        this.globalTopics,
        this.isGlobalInput,
        (b) => this.enqueue(() => this.handleGlobal(b)),
        (c) => this.superviseConsumer(c, "global-table consumer", generation),
      );
      await this.feed.start();
      this.log(`global tables ${this.globalTopics.join(", ")} read up to ${[...this.globalPositions].map(([s, o]) => `${s}@${o}`).join(" ") || "(empty)"}`);
    }
    const consumer = (this.consumer = this.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxBytesPerPartition: fetchBytes().perPartition,
      maxBytes: fetchBytes().total,
      sessionTimeout,
      heartbeatInterval: Math.floor(sessionTimeout / 5),
      // kafkajs restarts a crashed consumer by itself; never one a restart has replaced.
      retry: { restartOnFailure: () => Promise.resolve(generation === this.generation && !this.closed) },
    }));
    this.superviseConsumer(consumer, "consumer", generation);
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      if (generation !== this.generation) return;
      this.memberId = e.payload.memberId;
      const mine = new Set<number>(e.payload.memberAssignment[this.inputTopic] ?? []);
      // Queued behind the batch in progress (kafkajs does not wait for event listeners); a failure
      // is logged, as the idle advance's below, rather than left an unhandled rejection.
      void this.enqueue(async () => {
        const gone = [...this.restored].filter((p) => !mine.has(p));
        this.assigned = mine;
        if (gone.length > 0) await this.revoke(gone);
        await this.producers.close([...this.producersNotIn(mine)]);
        this.log(`assigned partitions ${[...mine].sort((a, b) => a - b).join(",")}${gone.length ? `; revoked ${gone.join(",")}` : ""}`);
      }).catch((err: unknown) => this.log(`taking the new assignment failed: ${(err as Error).message}`));
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.inputTopic], fromBeginning: true });
    const idleMs = this.opts.idleAdvanceMs ?? this.spec.idleAfterMs ?? 0;
    if (idleMs > 0) {
      this.idleTimer = setInterval(
        () =>
          void this.enqueue(() => this.advanceIdle(idleMs)).catch((err: unknown) => this.log(`advancing idle partitions failed: ${(err as Error).message}`)),
        Math.max(100, idleMs / 2),
      );
      this.idleTimer.unref?.();
    }
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      // A consumer of an earlier generation (one a restart could not stop in time) processes
      // nothing: it fails, and kafkajs, told not to restart it, lets it leave the group.
      eachBatch: (payload) =>
        generation === this.generation ? this.enqueue(() => this.handleBatch(payload)) : Promise.reject(new Error("consumer replaced by a restart")),
    });
  }

  /**
   * A consumer kafkajs gives up on (a crash it will not restart itself, e.g. after a coordinator
   * loss it deems not retriable) restarts the runtime; a crash kafkajs restarts itself is only
   * logged. (Its STOP event is no signal: kafkajs emits it on the way to its own restarts too, and a
   * consumer stopped any other way leaves its group, which the watchdog sees.)
   */
  private superviseConsumer(consumer: Consumer, what: string, generation: number): void {
    consumer.on(consumer.events.CRASH, (e) => {
      if (generation !== this.generation || this.closed) return;
      this.opts.logger?.warn({ job: this.spec.name, err: e.payload.error, restart: e.payload.restart }, `${what} crashed`);
      if (!e.payload.restart) this.restart(`${what} crashed and kafkajs will not restart it: ${e.payload.error.message}`);
    });
  }

  /** Compares what the broker says with what this instance did (ProgressWatch) and acts on it. */
  private judge(): void {
    if (this.closed || this.fatal) return;
    const now = Date.now();
    if (this.restarting) {
      // A restart waits for the step in progress: one that never ends must still end the process.
      const overdue = overdueStep({ nowMs: now, busySinceMs: this.busySince, restoring: this.restoring }, this.supervision);
      if (overdue) this.die(new Error(`job ${this.spec.name}: ${overdue}`));
      return;
    }
    const verdicts = [];
    if (this.latestProbe.input) {
      verdicts.push(
        this.watch.input.judge(
          {
            nowMs: now,
            startedAtMs: this.runtimeStartedAt,
            memberId: this.memberId,
            owned: new Set([...(this.assigned ?? [])].map((p) => `${this.inputTopic}/${p}`)),
            lastProgressAtMs: this.lastProgressAt,
            busySinceMs: this.busySince,
            restoring: this.restoring,
          },
          this.latestProbe.input,
        ),
      );
    }
    if (this.repartitioner && this.latestProbe.repartition) {
      const view = this.repartitioner.view();
      verdicts.push(
        this.watch.repartition.judge(
          { nowMs: now, startedAtMs: this.runtimeStartedAt, busySinceMs: undefined, restoring: false, ...view },
          this.latestProbe.repartition,
        ),
      );
    }
    const fatal = verdicts.find((v) => v.kind === "fatal");
    if (fatal && fatal.kind !== "ok") return this.die(new Error(`job ${this.spec.name}: ${fatal.reason}`));
    const restart = verdicts.find((v) => v.kind === "restart");
    if (restart && restart.kind !== "ok") this.restart(restart.reason);
  }

  /** The broker's view of the job's group (and the repartition step's): lag per partition, members. */

  private async probeGroups(): Promise<void> {
    const admin = await this.admin.get();
    const input = await probeGroup(admin, this.groupId, [this.inputTopic]);
    for (const [source, lag] of input.lag) this.opts.observer?.lag(this.spec.name, Number(source.slice(source.lastIndexOf("/") + 1)), lag);
    const repartition = this.repartitioner ? await probeGroup(admin, this.repartitioner.groupId, this.spec.streamTopics) : undefined;
    this.latestProbe = { input, ...(repartition ? { repartition } : {}) };
  }

  /**
   * Tears the runtime down (consumers, tasks, producers) and starts it again after a backoff; the
   * tasks restore from their changelogs as after any rebalance. After maxRestarts restarts in a
   * row without a committed step in between, gives up (onFatal).
   */
  private restart(reason: string): void {
    if (this.closed || this.restarting || this.fatal) return;
    const attempt = ++this.failedRestarts;
    if (attempt > this.supervision.maxRestarts) return this.die(new Error(`job ${this.spec.name}: ${attempt - 1} restarts without progress; last: ${reason}`));
    const delay = restartDelayMs(attempt);
    this.opts.logger?.error({ job: this.spec.name, attempt, delayMs: delay }, `restarting the processor runtime: ${reason}`);
    this.log(`restarting (attempt ${attempt}, in ${delay} ms): ${reason}`);
    const run: Promise<void> = (async () => {
      this.generation++; // the old consumers' events are ignored from here on
      await this.stopRuntime();
      await new Promise((r) => setTimeout(r, delay));
      if (this.closed) return;
      this.watch.input.reset();
      this.watch.repartition.reset();
      this.latestProbe = {};
      await this.startRuntime();
    })().then(
      () => {
        if (this.restarting === run) this.restarting = undefined;
      },
      (err: unknown) => {
        if (this.restarting === run) this.restarting = undefined;
        this.restart(`restart failed: ${(err as Error).message}`);
      },
    );
    this.restarting = run;
  }

  /** Stops consumers and drops every task and producer, each under a deadline (one may hang on a dead broker). */
  private async stopRuntime(): Promise<void> {
    clearInterval(this.idleTimer);
    const deadline = this.supervision.probeDeadlineMs * 5;
    const consumer = this.consumer;
    this.consumer = undefined;
    await Promise.all([
      raceTimeout(consumer?.disconnect() ?? Promise.resolve(), deadline),
      raceTimeout(this.repartitioner?.close() ?? Promise.resolve(), deadline),
      raceTimeout(this.feed?.close() ?? Promise.resolve(), deadline),
    ]);
    this.repartitioner = undefined;
    this.feed = undefined;
    // Queued after any step in progress; a step that never ends is the watchdog's (fatal).
    this.chain = this.chain.then(async () => {
      await this.revoke([...this.restored]).catch(() => {});
      await raceTimeout(this.producers.close(), deadline);
    });
    await this.chain;
    this.assigned = undefined;
    this.globalPositions.clear();
  }

  private die(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    this.opts.logger?.fatal({ err, job: this.spec.name }, "processor cannot go on in this process");
    this.log(`fatal: ${err.message}`);
    if (this.opts.onFatal) this.opts.onFatal(err);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchTimer);
    this.probes.stop();
    clearInterval(this.idleTimer);
    await this.restarting;
    await this.repartitioner?.close();
    await this.consumer?.disconnect().catch(() => {});
    await this.feed?.close();
    await this.chain.catch(() => {});
    await Promise.all(this.diskWrites);
    await this.producers.close();
    await this.pool?.close();
    this.stateLock?.release();
    await this.admin.close();
  }

  private *producersNotIn(partitions: Set<number>): Iterable<number> {
    for (let p = 0; p < this.partitions; p++) if (!partitions.has(p)) yield p;
  }

  /** Runs `work` after everything queued before it; the watchdog sees how long it has been running. */
  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(async () => {
      this.busySince = Date.now();
      try {
        await work();
      } finally {
        this.busySince = undefined;
        this.restoring = false;
      }
    });
    this.chain = run.catch(() => {});
    return run;
  }

  private async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      if ((await admin.listTopics()).includes(this.inputTopic)) {
        const meta = await admin.fetchTopicMetadata({ topics: [this.inputTopic] });
        this.partitions = meta.topics[0]!.partitions.length;
      }
    } finally {
      await admin.disconnect();
    }
    // Every topic the job reads, with the partitions its schema image gives (if not there yet).
    const sources = new Map<string, number>();
    // Another region's topics too, as MirrorMaker 2 will name them here (created with the same partitions if not there yet).
    for (const input of this.spec.inputs.values())
      for (const topic of this.spec.inEveryRegion(input.topic)) sources.set(topic, Math.max(sources.get(topic) ?? 1, input.partitions));
    await ensureTopicsWithKafkajs(
      this.kafka,
      [
        ...[...sources].map(([topic, partitions]) => ({ topic, partitions })),
        { topic: this.inputTopic, partitions: this.partitions },
        { topic: this.results, partitions: this.partitions },
        { topic: ALERTS_TOPIC, partitions: ALERTS_TOPIC_PARTITIONS },
        { topic: this.changelog, partitions: this.partitions, compacted: true },
      ],
      this.opts.replicationFactor !== undefined ? { replicationFactor: this.opts.replicationFactor } : {},
    );
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
    const partition = batch.partition;
    const traceSpans = new ProcessSpans(this.spec.name, this.groupId);
    await this.failSafe(async () => {
      if (!this.restored.has(partition)) {
        // A restore may take longer than the session timeout: keep the membership alive meanwhile.
        const beat = setInterval(() => void payload.heartbeat().catch(() => {}), 2000);
        this.restoring = true;
        try {
          await this.restore([partition, ...[...(this.assigned ?? [])].filter((p) => p !== partition && !this.restored.has(p))]);
        } finally {
          clearInterval(beat);
          this.restoring = false;
        }
        await payload.heartbeat();
      }
      const records: RawRecord[] = [];
      let events = 0;
      let maxTs = this.maxEventTime.get(partition) ?? Number.NEGATIVE_INFINITY;
      const messages = this.fenced.filter(batch.topic, partition, batch.messages);
      if (messages.length < batch.messages.length)
        this.log(`partition ${partition}: skipping ${batch.messages.length - messages.length} records committed already`);
      if (messages.length === 0) return;
      for (const m of messages) {
        const r = rawRecordOf(m, batch.topic, partition, this.isPartitionedInput, false, this.spec.regions !== undefined);
        if (!r) continue;
        if (r.type === WATERMARK_MARKER_TYPE) {
          records.push(r);
          continue;
        }
        // A traced event: this step's span continues its trace, into the worker thread.
        const span = traceSpans.start(m, batch.topic, partition);
        records.push(span ? { ...r, traceparent: span } : r);
        events++;
        if (r.timestampMs > maxTs) maxTs = r.timestampMs;
      }
      if (maxTs > Number.NEGATIVE_INFINITY) this.maxEventTime.set(partition, maxTs);
      if (events > 0) this.lastRecordAt.set(partition, Date.now());
      const started = performance.now();
      const threads = await this.pool!.process(records, this.idleWatermark());
      const next = (BigInt(batch.lastOffset()) + 1n).toString();
      await this.commit(threads, { partition, offsets: { groupId: this.groupId, topic: batch.topic, offset: next } }, events, started);
      this.fenced.committed(batch.topic, partition, BigInt(next));
      this.counters.records += events;
      this.lastProgressAt = Date.now();
      this.failedRestarts = 0;
    }).then(
      () => traceSpans.end(),
      (err: unknown) => {
        // A step that did not commit ends its spans as failed.
        traceSpans.end(err instanceof Error ? err : new Error(String(err)));
        throw err;
      },
    );
    payload.resolveOffset(batch.lastOffset());
    await payload.heartbeat();
  }

  /** Global-table records: applied by every task here, then each task commits what changed. */
  private async handleGlobal(batch: GlobalBatch): Promise<void> {
    if (this.closed) return;
    if (this.restored.size > 0 && batch.records.length > 0) {
      await this.failSafe(async () => this.commit(await this.pool!.process(batch.records)));
    }
    this.globalPositions.set(batch.source, batch.lastOffset);
  }

  /** Runs a step; on failure drops every task (state may be ahead of the changelog) and rethrows. */
  private async failSafe(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.log(`processing failed, dropping tasks ${[...this.restored].join(",")}: ${(err as Error).message}`);
      // Every task's in-memory state may be ahead of the changelog (a watermark or a global record
      // reaches all of them): drop them all and their producers (one may have been fenced).
      await this.revoke([...this.restored]).catch(() => {});
      await this.producers.close();
      throw err;
    }
  }

  /**
   * One transaction per task the step touched: its results, alerts and changelog changes, plus the
   * consumed offset for the batch's own partition (committed even when it produced nothing).
   */
  private async commit(
    threads: ThreadResults,
    batch?: { partition: number; offsets: { groupId: string; topic: string; offset: string } },
    records = 0,
    started = performance.now(),
  ): Promise<void> {
    const perTask = taskMessages(this.spec, threads, batch?.partition);
    // Per task, where its changelog records of this step end (if it wrote any).
    const changelogEnds = await Promise.all(
      [...perTask].map(async ([p, t]) => {
        const ends = await this.producers.commit(p, {
          topicMessages: [
            { topic: this.results, messages: t.results },
            { topic: ALERTS_TOPIC, messages: t.alerts },
            { topic: this.changelog, messages: t.changelog },
          ],
          ...(batch && batch.partition === p ? { offsets: batch.offsets } : {}),
        });
        return [p, ends.get(`${this.changelog}/${p}`)] as const;
      }),
    );
    // Every transaction committed: disk-state tasks write the step to disk, their checkpoint where
    // the step's changelog records end. Not awaited: a thread takes it before anything sent later.
    this.writeToDisk(new Map(changelogEnds.filter((e): e is readonly [number, number] => e[1] !== undefined)));
    const byStream = new Map<string, number>();
    for (const t of threads) {
      for (const o of t.outputs) {
        byStream.set(o.stream, (byStream.get(o.stream) ?? 0) + 1);
        this.counters.outputs.set(o.stream, (this.counters.outputs.get(o.stream) ?? 0) + 1);
        this.counters.last.set(o.stream, o.value);
      }
    }
    this.opts.observer?.committed(this.spec.name, records, byStream, (performance.now() - started) / 1000);
  }

  /**
   * Disk state: committed steps to disk, in the background. A write that fails (a full disk) would
   * leave the steps in memory for ever: the runtime restarts instead, and restores from the copy.
   */
  private writeToDisk(ends: ReadonlyMap<number, number>): void {
    if (ends.size === 0) return;
    const write = this.pool!.markDurable(ends).catch((err: unknown) => this.restart(`writing committed state to disk failed: ${(err as Error).message}`));
    this.diskWrites.add(write);
    void write.finally(() => this.diskWrites.delete(write));
  }

  /** Moves idle partitions' watermarks on with the clock (see idleAdvanceMs), committing what that closes. */
  private async advanceIdle(idleMs: number): Promise<void> {
    if (this.closed || !this.pool) return;
    const now = Date.now();
    const marks = new Map<number, number>();
    for (const p of this.restored) {
      const last = this.lastRecordAt.get(p);
      const maxTs = this.maxEventTime.get(p);
      if (last === undefined || maxTs === undefined || now - last < idleMs) continue;
      marks.set(p, maxTs + (now - last) - idleMs);
    }
    if (marks.size > 0) await this.failSafe(async () => this.commit(await this.pool!.advance(marks)));
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
      this.lastRecordAt.delete(p);
    }
    await this.pool?.revoke(partitions);
  }

  /**
   * Takes over tasks: opens their producers first (fencing any previous owner and aborting its
   * open transaction, so the changelog reads to a stable end), rebuilds their state from the
   * changelog (read_committed), then brings them up to the global feed's position.
   */
  private async restore(partitions: number[]): Promise<void> {
    const started = Date.now();
    await this.producers.open(partitions);
    const source = { kafka: this.kafka, admin: this.admin, changelog: this.changelog, pool: this.pool!, job: this.spec, log: this.log };
    const { states, summary } = this.pool!.onDisk ? await restoreOnDisk(source, partitions) : await restoreInMemory(source, partitions);
    const behind = new Map<string, number>(); // global source -> lowest offset applied by a restored task
    for (const p of partitions) {
      const state = states.get(p)!;
      this.restored.add(p);
      // Where the task's stream stood: an idle partition closes its windows after a restart too.
      const progress = state.get(changelogKey(JOB_IDENTITY_STORE, TASK_PROGRESS_KEY))?.[2] as TaskProgress | undefined;
      if (progress) {
        this.maxEventTime.set(p, progress.maxEventTimeMs);
        this.lastRecordAt.set(p, Date.now());
      } else this.maxEventTime.delete(p);
      for (const source of this.globalPositions.keys()) {
        const seen = state.get(changelogKey(GLOBAL_POSITIONS_STORE, source))?.[2] as number | undefined;
        behind.set(source, Math.min(behind.get(source) ?? Number.POSITIVE_INFINITY, seen ?? -1));
      }
    }
    const caughtUp = await this.catchUpGlobals(behind);
    this.log(`restored partitions ${partitions.join(",")} (${summary}${caughtUp ? `, ${caughtUp} global records` : ""}) in ${Date.now() - started} ms`);
  }

  /** Replays global records the restored tasks have not applied, up to the feed's position. */
  private async catchUpGlobals(behind: ReadonlyMap<string, number>): Promise<number> {
    const ranges = new Map<string, { from: number; to: number }>();
    for (const [source, seen] of behind) {
      const to = this.globalPositions.get(source)!;
      if (seen < to) ranges.set(source, { from: seen + 1, to });
    }
    if (ranges.size === 0) return 0;
    const records: RawRecord[] = [];
    const topics = [...new Set([...ranges.keys()].map((s) => s.slice(0, s.lastIndexOf("/"))))];
    await readCommitted(
      this.kafka,
      topics,
      (partition, m, topic) => {
        const r = rawRecordOf(m, topic, partition, this.isGlobalInput, true);
        if (r) records.push(r);
      },
      { ranges },
    );
    // Tasks already past a record skip it (their positions), so the pool may offer it to all.
    for (let i = 0; i < records.length; i += 1000) await this.commit(await this.pool!.process(records.slice(i, i + 1000)));
    return records.length;
  }
}
