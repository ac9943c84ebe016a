/** What a Processor is given: its job, where it runs, and how it is supervised (decision 0016). */
import { getHeapStatistics } from "node:v8";
import type { KafkaSecurity } from "../adapters/kafka/kafka-security.js";
import type { Logger } from "../log.js";
import type { RuntimeJob } from "../jobs/runtime-job.js";
import type { ProcessorObserver } from "../metrics/prometheus.js";
import type { WatchLimits } from "./progress-watch.js";
import type { TracingSetup } from "../tracing/tracing.js";

/**
 * How much a processor's consumers fetch at once: per partition and per fetch (kafkajs' defaults
 * are 1 MiB and 10 MiB). A task step is one transaction whatever its size, and a transaction costs
 * ~25 ms of round trips here, so a lagging processor (a restart, a backlog, the benchmark) gains
 * from larger steps; a caught-up one fetches what has arrived, which stays small. Up to 4 MiB per
 * partition and 32 MiB per fetch, but never more than 1/32 of the heap per fetch: kafkajs decodes
 * a fetch into objects several times its size (small records: ~5×), and a processor run with a
 * small heap (--max-old-space-size, state on disk) must not run out of it on one fetch.
 */
export function fetchBytes(heapLimitBytes = getHeapStatistics().heap_size_limit): { perPartition: number; total: number } {
  const MiB = 1024 * 1024;
  const total = Math.max(MiB, Math.min(32 * MiB, Math.floor(heapLimitBytes / 32)));
  return { perPartition: Math.min(4 * MiB, total), total };
}

export type ProcessorOptions = {
  readonly brokers: readonly string[];
  /** How its Kafka clients reach the brokers (TLS, SASL); default plaintext. */
  readonly security?: KafkaSecurity;
  /** The job, bound to its options and schema image. */
  readonly job: RuntimeJob;
  /** Where the job is defined (module URL or package specifier): the worker threads import it. */
  readonly module: string;
  /** The schema image the job's types come from (undefined: the built-in types). */
  readonly schemaImage?: string;
  /** Worker threads (default 2). */
  readonly threads?: number;
  /** Consumer group (default `weir-processor-<job>`); also names the tasks' transactional ids. */
  readonly groupId?: string;
  /** Name of this instance in logs and client ids (default random). */
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
  /**
   * Opt-in (0, default: off): a partition that got no records for this long (wall clock) has its
   * task's watermark moved on as if event time kept pace with the clock: to its highest event time
   * + (idle time − this). Windows and pattern timeouts of idle partitions then close, in one
   * transaction per task like any step. Records that arrive later behind that watermark are late.
   * A partition counts only once it had records, here or (restored) before. Default: the job's
   * own idle policy.
   */
  readonly idleAdvanceMs?: number;
  /** The repartition step marks a source partition idle after this long without records (default: the job's idle time, else 10 s). */
  readonly sourceIdleMs?: number;
  /** Consumer group session timeout (default 10 s): how long a dead instance keeps its partitions. */
  readonly sessionTimeoutMs?: number;
  /** Metrics (optional). */
  readonly observer?: ProcessorObserver;
  /** Tracing for the worker threads (the main thread uses the process's global tracer provider). */
  readonly tracing?: TracingSetup;
  /** Replication factor of the topics it creates (default: the broker's). */
  readonly replicationFactor?: number;
  /**
   * Where tasks keep their state on disk (LMDB, a directory per job group and partition): state
   * larger than memory, and restarts that restore from the local copy plus the changelog's tail.
   * One directory per processor process. Absent: state in memory, restored from the whole changelog.
   */
  readonly stateDir?: string;
  readonly log?: (line: string) => void;
  /** Where kafkajs's own warnings and errors go (default: nowhere), and outages of Kafka. */
  readonly logger?: Logger;
  /** Supervision (see ProgressWatch); defaults in DEFAULT_SUPERVISION. */
  readonly supervision?: Partial<Supervision>;
  /**
   * The processor cannot go on in this process (a step outlived its deadline, or restarts kept
   * failing): the owner exits with a non-zero code so its supervisor starts a fresh process.
   */
  readonly onFatal?: (err: Error) => void;
};

export type Supervision = WatchLimits & {
  /** How often the group's lag and members are read from the broker (also the Kafka health check). */
  readonly intervalMs: number;
  /** A broker probe not answered within this counts as Kafka unreachable. */
  readonly probeDeadlineMs: number;
  /** Consecutive restarts without progress before the processor gives up (onFatal). */
  readonly maxRestarts: number;
};

export const DEFAULT_SUPERVISION: Supervision = {
  stallMs: 20_000,
  stepTimeoutMs: 120_000,
  restoreTimeoutMs: 600_000,
  intervalMs: 2_000,
  probeDeadlineMs: 3_000,
  maxRestarts: 8,
};
