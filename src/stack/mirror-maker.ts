/**
 * MirrorMaker 2 between local regions: Apache Kafka's connect-mirror in dedicated mode (one JVM,
 * `org.apache.kafka.connect.mirror.MirrorMaker`), with an mm2.properties Weir writes. Every flow
 * between two regions is on, both ways: Weir's public topics (events, reference data, dead
 * letters, results, alerts) are replicated as `<source region>.<topic>` (DefaultReplicationPolicy), which is also the
 * loop prevention: the topic patterns never match a remote topic, so nothing comes back.
 * Checkpoints and group offset sync are on, so a consumer group can move to the other region at
 * translated offsets.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { ensureMirrorMakerJars, writeLog4jConfig, type KafkaJars } from "./kafka-jars.js";
import { kafkaJvmArgs } from "./kafka-node.js";
import { commandExists, livePid, spawnDetached, stopPid, waitHealthy, type StopResult } from "./process.js";

const NEEDLE = "org.apache.kafka.connect.mirror.MirrorMaker";

/**
 * The topics a region replicates to the others: Weir's own namespace, `weir.*` (events and
 * reference data, dead letters, results, alerts). Event types whose schema names a topic outside it
 * need their topics added to the mm2.properties flows. A job's changelog and repartition topics are
 * its region's own (each region runs its jobs), and MirrorMaker's internal topics stay home.
 */
export const MIRRORED_TOPICS = String.raw`weir\..*`;
export const NOT_MIRRORED_TOPICS = String.raw`.*\.changelog, .*\.repartition, .*[\-\.]internal, .*\.replica, __.*`;

/** A region: its name (the prefix of its topics in the other regions) and its Kafka. */
export type MirrorRegion = { readonly name: string; readonly brokers: string };

export type MirrorMakerOptions = {
  readonly dir: string;
  readonly regions: readonly MirrorRegion[];
  /** Replication factor of the topics MirrorMaker creates (default 1: one broker per region locally). */
  readonly replication?: number;
  readonly jars?: KafkaJars;
  readonly startTimeoutMs?: number;
};

export function mirrorMakerPaths(dir: string) {
  return {
    config: join(dir, "mm2.properties"),
    pidFile: join(dir, "mirror-maker.pid"),
    processLog: join(dir, "mirror-maker.out"),
    log: join(dir, "mirror-maker.log"),
  };
}

/** The mm2.properties of these regions: every pair, both ways. */
export function mm2Properties(regions: readonly MirrorRegion[], replication = 1): string {
  const names = regions.map((r) => r.name);
  const lines = [`clusters = ${names.join(", ")}`];
  for (const r of regions) {
    lines.push(`${r.name}.bootstrap.servers = ${r.brokers}`);
    // Results and alerts are written in transactions: only committed records cross.
    lines.push(`${r.name}.consumer.isolation.level = read_committed`);
  }
  for (const from of names) {
    for (const to of names) {
      if (from === to) continue;
      lines.push(`${from}->${to}.enabled = true`, `${from}->${to}.topics = ${MIRRORED_TOPICS}`, `${from}->${to}.topics.exclude = ${NOT_MIRRORED_TOPICS}`);
    }
  }
  lines.push(
    // Consumer groups whose offsets are checkpointed and synced to the other regions: every group but
    // MirrorMaker's own and Weir's per-process ones.
    String.raw`groups.exclude = console-consumer-.*, connect-.*, __.*, mm2-.*`,
    "sync.group.offsets.enabled = true",
    "sync.group.offsets.interval.seconds = 1",
    "emit.checkpoints.interval.seconds = 1",
    "emit.heartbeats.interval.seconds = 1",
    // New topics and groups are picked up within seconds (defaults: 10 minutes).
    "refresh.topics.interval.seconds = 2",
    "refresh.groups.interval.seconds = 2",
    // An offset sync at least every 10 records: translated offsets are at most that far behind.
    "offset.lag.max = 10",
    "sync.topic.acls.enabled = false",
    "tasks.max = 2",
    `replication.factor = ${replication}`,
    ...["checkpoints.topic", "heartbeats.topic", "offset-syncs.topic", "offset.storage", "status.storage", "config.storage"].map(
      (t) => `${t}.replication.factor = ${replication}`,
    ),
    "",
  );
  return lines.join("\n");
}

export function mirrorMakerPid(dir: string): number | undefined {
  return livePid(mirrorMakerPaths(dir).pidFile, NEEDLE);
}

/**
 * Starts MirrorMaker between the regions (idempotent: a running one is only waited for) and waits
 * until it has started mirroring: every region has MirrorMaker's heartbeats topic.
 */
export async function startMirrorMaker(opts: MirrorMakerOptions): Promise<{ pid: number }> {
  const p = mirrorMakerPaths(opts.dir);
  let pid = mirrorMakerPid(opts.dir);
  if (pid === undefined) {
    if (!commandExists("java")) throw new Error("java not found on PATH: apt-get install -y openjdk-17-jre-headless");
    const jars = opts.jars ?? (await ensureMirrorMakerJars());
    mkdirSync(opts.dir, { recursive: true });
    writeFileSync(p.config, mm2Properties(opts.regions, opts.replication));
    const log4j = writeLog4jConfig(opts.dir, p.log);
    pid = spawnDetached({
      cmd: "java",
      args: [...kafkaJvmArgs({ heap: "384m" }), `-Dlog4j2.configurationFile=${log4j}`, "-cp", jars.classpath, NEEDLE, p.config],
      cwd: opts.dir,
      logFile: p.processLog,
      pidFile: p.pidFile,
    });
  }
  await waitHealthy({
    name: "MirrorMaker",
    pid,
    logFiles: [p.processLog, p.log],
    timeoutMs: opts.startTimeoutMs ?? 120_000,
    check: async () => (await Promise.all(opts.regions.map((r) => hasTopic(r.brokers, "heartbeats")))).every(Boolean),
    intervalMs: 500,
  });
  return { pid };
}

export function stopMirrorMaker(dir: string, timeoutMs = 15_000): Promise<StopResult> {
  return stopPid(mirrorMakerPaths(dir).pidFile, NEEDLE, timeoutMs);
}

async function hasTopic(brokers: string, topic: string): Promise<boolean> {
  const kafka = new Kafka({ clientId: "weir-stack-mirror-health", brokers: brokers.split(","), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return (await admin.listTopics()).includes(topic);
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
