/**
 * `weir processor` as a child process for integration tests (killed with signals, restarted), and
 * what the processor tests share: the error-rate event pattern and the exactly-once check of the
 * final windows in the results topic.
 */
import { Kafka, logLevel } from "kafkajs";
import { Admin as PlatformaticAdmin, FetchIsolationLevels } from "@platformatic/kafka";
import { expect } from "vitest";
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { resultsTopic } from "../../src/kafka-contract.js";
import { readCommitted } from "../../src/adapters/kafka/read-committed.js";
import { splitTenantKey } from "../../src/kafka-contract.js";
import { startWeirChild, type WeirChild } from "./weir-child.js";

export type { LogLine, LogMatch } from "./weir-child.js";

export type ProcessorChildOptions = {
  /** WEIR_KAFKA_BROKERS */
  readonly brokers: string;
  /** The job's name (its module defaults to the example job of that name) */
  readonly job: string;
  /** WEIR_PROCESSOR_JOBS: the job's module (default `weir/examples/jobs/<job>`) */
  readonly module?: string;
  /** More WEIR_* settings (e.g. WEIR_SCHEMA_IMAGE, WEIR_JOB_OPTIONS). */
  readonly env?: Readonly<Record<string, string>>;
  /** WEIR_PROCESSOR_GROUP_PREFIX: the job's consumer group is `<groupPrefix>-<job>` */
  readonly groupPrefix: string;
  /** WEIR_GATEWAY_ID: the instance's name in logs and client ids */
  readonly instanceId: string;
  /** WEIR_WEBHOOK_URL, if alerts are to be delivered */
  readonly webhookUrl?: string;
  /** WEIR_PROCESSOR_THREADS (default 2) */
  readonly threads?: number;
};

export type ProcessorChild = WeirChild & {
  readonly instanceId: string;
  /** The job's consumer group. */
  readonly group: string;
};

/** Starts `weir processor` (gateway/cli/run-processor.ts) in a child process under tsx. */
export function startProcessorChild(opts: ProcessorChildOptions): ProcessorChild {
  const child = startWeirChild(`processor ${opts.instanceId}`, "gateway/cli/run-processor.ts", "runProcessor", {
    WEIR_KAFKA_BROKERS: opts.brokers,
    WEIR_PROCESSOR_JOBS: opts.module ?? `weir/examples/jobs/${opts.job}`,
    WEIR_PROCESSOR_THREADS: String(opts.threads ?? 2),
    WEIR_PROCESSOR_GROUP_PREFIX: opts.groupPrefix,
    WEIR_GATEWAY_ID: opts.instanceId,
    WEIR_METRICS_PORT: "0",
    WEIR_WEBHOOK_URL: opts.webhookUrl ?? "",
    ...opts.env,
  });
  return Object.assign(child, { instanceId: opts.instanceId, group: `${opts.groupPrefix}-${opts.job}` });
}

/** "assigned partitions 0,2,4" (the processor logs one such line per group join). */
export const ASSIGNED = /assigned partitions ([0-9,]*)/;
/** "restored partitions 1,3 (42 entries) in 12 ms" */
export const RESTORED = /restored partitions ([0-9,]+) \(([0-9]+) entries[^)]*\) in ([0-9]+) ms/;

/** The partition list of an "assigned partitions" or "restored partitions" match. */
export const partitionList = (s: string): number[] => (s === "" ? [] : s.split(",").map(Number));

/** The partitions of the child's latest "assigned partitions" line, if any. */
export function latestAssignment(child: ProcessorChild): number[] | undefined {
  for (let i = child.lines.length - 1; i >= 0; i--) {
    const m = child.lines[i]!.text.match(ASSIGNED);
    if (m) return partitionList(m[1]!);
  }
  return undefined;
}

export type TransactionProbe = {
  /**
   * "topic/partition" of each of `partitions` of `topics` whose last stable offset is below its
   * high watermark: an open transaction holds back read_committed readers there.
   */
  open(topics: readonly string[], partitions: readonly number[]): Promise<string[]>;
  close(): Promise<void>;
};

/** Compares read_committed and read_uncommitted end offsets (kafkajs' admin only lists the former). */
export function transactionProbe(brokers: string): TransactionProbe {
  const admin = new PlatformaticAdmin({ clientId: "weir-test-lso", bootstrapBrokers: [brokers] });
  const ends = async (topics: readonly string[], partitions: readonly number[], isolationLevel: 0 | 1) => {
    const listed = await admin.listOffsets({
      isolationLevel,
      topics: topics.map((name) => ({ name, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) })),
    });
    return new Map(listed.flatMap((t) => t.partitions.map((p) => [`${t.name}/${p.partitionIndex}`, p.offset] as const)));
  };
  return {
    async open(topics, partitions) {
      const [stable, high] = await Promise.all([
        ends(topics, partitions, FetchIsolationLevels.READ_COMMITTED),
        ends(topics, partitions, FetchIsolationLevels.READ_UNCOMMITTED),
      ]);
      return [...high]
        .filter(([k, h]) => (stable.get(k) ?? h) < h)
        .map(([k]) => k)
        .sort();
    },
    close: () => admin.close(),
  };
}

export type WindowCounts = { errors: number; requests: number };

export const accessLog = (id: string, host: string, status: number, eventTimeMs: number): Envelope =>
  envelopeOf(HttpAccessLogSchema, { host, method: "GET", path: "/", status }, { id, eventTimeMs, partitionKey: host });

/**
 * One minute of access logs starting at `start`: `perMinute` events of random `hosts` (keyed by
 * host), ~12% 503s, event times in rough order inside the minute with up to 2 s of disorder.
 * Adds each event to `expected` ("host|windowStart" -> counts).
 */
export function accessLogMinute(opts: {
  random: () => number;
  hosts: readonly string[];
  start: number;
  perMinute: number;
  id: () => string;
  expected: Map<string, WindowCounts>;
}): Envelope[] {
  const { random, hosts, start, perMinute, expected } = opts;
  const events: Envelope[] = [];
  for (let i = 0; i < perMinute; i++) {
    const host = hosts[Math.floor(random() * hosts.length)]!;
    const status = random() < 0.12 ? 503 : 200;
    const time = Math.min(start + 59_999, Math.max(start, start + Math.floor((i * 60_000) / perMinute) - Math.floor(random() * 2000)));
    events.push(accessLog(opts.id(), host, status, time));
    const k = `${host}|${start}`;
    const c = expected.get(k) ?? { errors: 0, requests: 0 };
    expected.set(k, { errors: c.errors + (status >= 500 ? 1 : 0), requests: c.requests + 1 });
  }
  return events;
}

/**
 * One event per host 10 s after `endMs` (the end of the last minute sent): moves every
 * partition's watermark past that minute, so its windows close; its own window stays open.
 */
export function pastLastMinute(hosts: readonly string[], endMs: number, id: () => string): Envelope[] {
  return hosts.map((h) => accessLog(id(), h, 200, endMs + 10_000));
}

export type ResultRecord = {
  partition: number;
  /** The tenant the result belongs to (from its tenant-qualified key), and its own key. */
  tenant: string;
  key: string;
  stream: string;
  value: { kind: string; key: string; windowStartMs: number; result?: WindowCounts };
};

/**
 * The job's results topic read_committed to its end, tenants split from the keys (checked against
 * the `weir.tenant` header); only the records `keep` accepts (a test sharing the topic keeps its own).
 */
export async function readResults(kafka: Kafka, job: string, keep: (o: ResultRecord) => boolean = () => true): Promise<ResultRecord[]> {
  const outputs: ResultRecord[] = [];
  await readCommitted(kafka, resultsTopic(job), (partition, msg) => {
    // Keys are tenant-qualified ("tenant/host"); the tenant is also a header.
    const owner = splitTenantKey(msg.key!.toString());
    const value = JSON.parse(msg.value!.toString()) as ResultRecord["value"];
    const record = {
      partition,
      tenant: owner!.tenant,
      key: owner!.key,
      stream: String(msg.headers?.["weir.stream"] ?? ""),
      value: { ...value, key: splitTenantKey(value.key)!.key },
    };
    if (!keep(record)) return;
    expect(msg.headers?.["weir.tenant"]?.toString()).toBe(owner?.tenant);
    outputs.push(record);
  });
  return outputs;
}

/** "host|windowStart" of every final window among `outputs`. */
export const finalWindows = (outputs: readonly ResultRecord[]): Set<string> =>
  new Set(outputs.filter((o) => o.value.kind === "final").map((o) => `${o.key}|${o.value.windowStartMs}`));

/**
 * Reads the job's results topic read_committed, again every second, until it holds a final window
 * for every key of `expected` ("host|windowStart"); then asserts that it holds nothing else — no
 * updates, no late records, no window twice — and exactly the expected counts. Returns the records.
 * `keep`: only these records count (a test on the shared topic keeps its tenant's). (A killed
 * instance's open transaction holds back read_committed readers of its partitions until the broker
 * aborts it at its transaction timeout, so give `timeoutMs` room for that.)
 */
export async function expectFinalWindowsExactlyOnce(
  brokers: string,
  job: string,
  expected: ReadonlyMap<string, WindowCounts>,
  opts: { timeoutMs?: number; context?: () => string; keep?: (o: ResultRecord) => boolean } = {},
): Promise<ResultRecord[]> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-test-results" });
  const deadline = Date.now() + (opts.timeoutMs ?? 150_000);
  let outputs: ResultRecord[];
  for (;;) {
    outputs = await readResults(kafka, job, opts.keep);
    const finals = finalWindows(outputs);
    if ([...expected.keys()].every((k) => finals.has(k))) break;
    if (Date.now() > deadline) {
      const missing = [...expected.keys()].filter((k) => !finals.has(k));
      throw new Error(`timed out: ${finals.size} of ${expected.size} final windows; missing ${missing.join(" ")}\n${opts.context?.() ?? ""}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  for (const o of outputs) expect(o.key).toBe(o.value.key);
  expect(outputs.filter((o) => o.stream !== "results" || o.value.kind !== "final")).toEqual([]);
  const got = new Map<string, WindowCounts>();
  for (const o of outputs) {
    const k = `${o.key}|${o.value.windowStartMs}`;
    expect(got.has(k), `final window ${k} twice`).toBe(false);
    got.set(k, o.value.result!);
  }
  expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected].sort()));
  return outputs;
}
