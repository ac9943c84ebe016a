import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { type KafkaJars, ensureKafkaJars, writeLog4jConfig } from "./kafka-jars.js";
import { cdsStartArgs, cdsUseArgs, discardCdsArchive, finishCdsDump } from "./kafka-cds.js";
import { waitPortFree } from "./free-port.js";
import { type StopResult, commandExists, livePid, spawnDetached, stopPid, waitHealthy } from "./process.js";

/** One KRaft node acting as broker and controller, as used by the dev stack and the integration tests. */
export interface KafkaNodeOptions {
  /** Node directory; holds config, logs, pid file and the log.dirs data. */
  dir: string;
  port: number;
  controllerPort: number;
  jars?: KafkaJars;
  heap?: string;
  /** C1-only JIT: faster start, lower peak throughput (for test brokers). */
  quickStart?: boolean;
  startTimeoutMs?: number;
  /** A member of a multi-node cluster (every node broker and controller); absent: a single node. */
  cluster?: KafkaClusterMember;
  /**
   * A second client listener (FRONT) on `port`, advertised at `advertisedPort`, where something
   * in front of the broker listens (the chaos suite's fault-injecting proxies): a client that
   * bootstraps through the front is told the fronts' addresses, so all its traffic passes them,
   * while the brokers and other clients keep talking directly.
   */
  front?: { port: number; advertisedPort: number };
  /**
   * A third client listener (SECURE) speaking SASL_SSL with SCRAM-SHA-512, for clients configured
   * the way production ones are: TLS with `keystorePemFile` (the server's private key and
   * certificate chain, PEM), and one SCRAM user created when the storage is formatted.
   */
  secure?: KafkaSecureListener;
}

export type KafkaSecureListener = { port: number; keystorePemFile: string; username: string; password: string };

/** A node's place in a KRaft cluster of several broker+controller nodes with a static quorum. */
export interface KafkaClusterMember {
  nodeId: number;
  /** Every node's id and controller port (the static quorum, `controller.quorum.voters`). */
  voters: readonly { id: number; controllerPort: number }[];
  /** Shared by every node; the nodes' storage is formatted with it. */
  clusterId: string;
}

const NEEDLE = "kafka.Kafka";

/**
 * Heap capped at 512 MB so a broker fits beside the gateway and tests on a 2-core shared machine; G1 with a short
 * pause target. `quickStart` adds C1-only JIT (-XX:TieredStopAtLevel=1): measured here it cut start to healthy
 * from ~3.6 s to ~2.9 s without CDS (~1.8 s to ~1.4 s with it), at the cost of peak throughput, so only the
 * short-lived test brokers use it.
 */
export function kafkaJvmArgs(opts: { heap?: string; quickStart?: boolean } = {}): string[] {
  return [
    `-Xmx${opts.heap ?? "512m"}`,
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    ...(opts.quickStart ? ["-XX:TieredStopAtLevel=1"] : []),
  ];
}

export function kafkaPaths(dir: string) {
  return {
    dir,
    config: join(dir, "server.properties"),
    dataDir: join(dir, "data"),
    pidFile: join(dir, "kafka.pid"),
    /** JVM stdout/stderr: crash output and anything logged before log4j is configured. */
    processLog: join(dir, "kafka.out"),
    /** log4j WARN+ output. */
    brokerLog: join(dir, "kafka.log"),
    clusterId: join(dir, "cluster-id"),
  };
}

export function kafkaBrokers(port: number): string {
  return `127.0.0.1:${port}`;
}

/**
 * Replication of a cluster of `nodes`: three copies and two in sync for every topic, internal ones
 * too, once there are three nodes (an acked record survives one broker's loss); one otherwise.
 */
export function clusterReplication(nodes: number): { replicationFactor: number; minInsyncReplicas: number } {
  return nodes >= 3 ? { replicationFactor: 3, minInsyncReplicas: 2 } : { replicationFactor: 1, minInsyncReplicas: 1 };
}

function serverProperties(opts: KafkaNodeOptions): string {
  const p = kafkaPaths(opts.dir);
  const { replicationFactor, minInsyncReplicas } = clusterReplication(opts.cluster?.voters.length ?? 1);
  const quorum: Record<string, string | number> = opts.cluster
    ? { "controller.quorum.voters": opts.cluster.voters.map((v) => `${v.id}@127.0.0.1:${v.controllerPort}`).join(",") }
    : { "controller.quorum.bootstrap.servers": `127.0.0.1:${opts.controllerPort}` };
  const { front, secure } = opts;
  const extra = [
    ...(front ? [{ name: "FRONT", port: front.port, advertised: front.advertisedPort, protocol: "PLAINTEXT" }] : []),
    ...(secure ? [{ name: "SECURE", port: secure.port, advertised: secure.port, protocol: "SASL_SSL" }] : []),
  ];
  const listed = (port: (l: (typeof extra)[number]) => number) => extra.map((l) => `,${l.name}://127.0.0.1:${port(l)}`).join("");
  const props: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": opts.cluster?.nodeId ?? 1,
    listeners: `PLAINTEXT://127.0.0.1:${opts.port},CONTROLLER://127.0.0.1:${opts.controllerPort}${listed((l) => l.port)}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${opts.port},CONTROLLER://127.0.0.1:${opts.controllerPort}${listed((l) => l.advertised)}`,
    "listener.security.protocol.map": `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${extra.map((l) => `,${l.name}:${l.protocol}`).join("")}`,
    ...(secure
      ? {
          "listener.name.secure.sasl.enabled.mechanisms": "SCRAM-SHA-512",
          "listener.name.secure.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
          "listener.name.secure.ssl.keystore.type": "PEM",
          "listener.name.secure.ssl.keystore.location": secure.keystorePemFile,
        }
      : {}),
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    ...quorum,
    "log.dirs": p.dataDir,
    // One node: every internal topic must fit on one replica. Three: each has three, two in sync.
    "offsets.topic.replication.factor": replicationFactor,
    "transaction.state.log.replication.factor": replicationFactor,
    "transaction.state.log.min.isr": minInsyncReplicas,
    "share.coordinator.state.topic.replication.factor": replicationFactor,
    "default.replication.factor": replicationFactor,
    "min.insync.replicas": minInsyncReplicas,
    // Fewer internal partitions: creating 50 of each on first group join / first transaction costs seconds here.
    "offsets.topic.num.partitions": 10,
    "transaction.state.log.num.partitions": 10,
    "share.coordinator.state.topic.num.partitions": 1,
    "num.partitions": 1,
    // After a crash (SIGKILL) the restarted broker cannot register until the old incarnation's session expires
    // (default 9 s, measured ~12 s restarts). Heartbeats stay on loopback inside one JVM, so a shorter session
    // only risks fencing on a multi-second stall.
    "broker.heartbeat.interval.ms": 500,
    "broker.session.timeout.ms": 3000,
    // Consumers in tests should join at once instead of waiting 3 s for more members.
    "group.initial.rebalance.delay.ms": 0,
    // Topics are created explicitly by the gateway's setup and the tests; typos must fail loudly.
    "auto.create.topics.enable": false,
  };
  return `# generated by weir stack; regenerated on every start\n${Object.entries(props)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
}

/** Kafka's Uuid.toString form: 16 random bytes, base64url without padding, never starting with '-'. */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/** Runs a short-lived JVM in `cwd` (where a crash report would land, never the caller's cwd). */
function runJava(args: string[], cwd: string, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("java", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const keep = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-8000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (err) => reject(new Error(`java failed to start: ${err.message}`)));
    child.on("close", (code) => {
      writeFileSync(logFile, out, { flag: "a" });
      if (code === 0) resolve();
      else reject(new Error(`kafka storage format failed (exit ${code}): ${out.trim().split("\n").slice(-20).join("\n")}`));
    });
  });
}

/**
 * Formats the node's storage once (cluster id kept in the node dir). The cluster id is generated here rather than
 * with `StorageTool random-uuid` because that costs a JVM start (~1 s) for 16 random bytes.
 * `--standalone` makes this node a single-voter dynamic quorum; `-g` skips already formatted dirs.
 */
async function formatOnce(opts: KafkaNodeOptions, jars: KafkaJars): Promise<void> {
  const p = kafkaPaths(opts.dir);
  if (existsSync(join(p.dataDir, "meta.properties"))) return;
  const clusterId = opts.cluster?.clusterId ?? (existsSync(p.clusterId) ? readFileSync(p.clusterId, "utf8").trim() : newClusterId());
  writeFileSync(p.clusterId, `${clusterId}\n`);
  // A static quorum (controller.quorum.voters) is formatted as it is; a single node as a standalone dynamic one.
  const quorum = opts.cluster ? [] : ["--standalone"];
  const scram = opts.secure ? ["--add-scram", `SCRAM-SHA-512=[name=${opts.secure.username},password=${opts.secure.password}]`] : [];
  const args = ["-cp", jars.classpath, "kafka.tools.StorageTool", "format", ...quorum, ...scram, "-t", clusterId, "-c", p.config, "-g"];
  // A bad CDS archive crashes the JVM at once; format is cheap enough to simply retry without it.
  await runJava([...cdsUseArgs(jars), ...args], opts.dir, p.processLog).catch(() => runJava(args, opts.dir, p.processLog));
}

export function kafkaPid(dir: string): number | undefined {
  return livePid(kafkaPaths(dir).pidFile, NEEDLE);
}

/**
 * Starts the node (formatting its storage on first use) and waits until it serves metadata. Idempotent: a running
 * node is only waited for. Config is rewritten on every start; ports must stay the same for a formatted dir,
 * because the controller endpoint is recorded in the quorum state.
 */
export async function startKafkaNode(opts: KafkaNodeOptions): Promise<{ pid: number }> {
  const running = kafkaPid(opts.dir);
  if (running !== undefined) {
    await waitKafkaHealthy(opts, running);
    return { pid: running };
  }
  if (!commandExists("java")) throw new Error("java not found on PATH: apt-get install -y openjdk-17-jre-headless");
  const jars = opts.jars ?? (await ensureKafkaJars());
  const p = kafkaPaths(opts.dir);
  mkdirSync(opts.dir, { recursive: true });
  // A broker of this dir that was killed by someone else may have left a half-written CDS dump behind.
  await finishCdsDump(jars, opts.dir, true);
  for (const port of [opts.port, opts.controllerPort, ...(opts.front ? [opts.front.port] : []), ...(opts.secure ? [opts.secure.port] : [])])
    await waitPortFree(port, `kafka (${opts.dir})`);
  writeFileSync(p.config, serverProperties(opts));
  const log4j = writeLog4jConfig(opts.dir, p.brokerLog);
  await formatOnce(opts, jars);

  const spawnBroker = (cds: string[]) =>
    spawnDetached({
      cmd: "java",
      args: [...kafkaJvmArgs(opts), ...cds, `-Dlog4j2.configurationFile=${log4j}`, `-Dkafka.logs.dir=${opts.dir}`, "-cp", jars.classpath, NEEDLE, p.config],
      cwd: opts.dir,
      logFile: p.processLog,
      pidFile: p.pidFile,
    });

  const cds = cdsStartArgs(jars, opts.dir);
  let pid = spawnBroker(cds);
  try {
    await waitKafkaHealthy(opts, pid);
  } catch (err) {
    if (cds.length === 0 || kafkaPid(opts.dir) !== undefined) throw err;
    // Died during startup with CDS flags: distrust the archive and try once more without it.
    await finishCdsDump(jars, opts.dir, false);
    discardCdsArchive(jars);
    pid = spawnBroker([]);
    await waitKafkaHealthy(opts, pid);
  }
  return { pid };
}

async function waitKafkaHealthy(opts: KafkaNodeOptions, pid: number): Promise<void> {
  const p = kafkaPaths(opts.dir);
  await waitHealthy({
    name: `kafka on 127.0.0.1:${opts.port}`,
    pid,
    logFiles: [p.processLog, p.brokerLog],
    timeoutMs: opts.startTimeoutMs ?? 90_000,
    check: () => kafkaHealthy(opts.port),
    intervalMs: 250,
  });
}

/** Healthy = a kafkajs admin client connects and lists topics (the broker has caught up with the metadata log). */
export async function kafkaHealthy(port: number, timeoutMs = 3_000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: "weir-stack-health",
    brokers: [kafkaBrokers(port)],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * SIGTERM gives a controlled shutdown, so the next start on the same dir needs no log recovery; SIGKILL after
 * the timeout. No-op when nothing runs.
 */
export async function stopKafkaNode(dir: string, opts: { timeoutMs?: number; jars?: KafkaJars } = {}): Promise<StopResult> {
  const result = await stopPid(kafkaPaths(dir).pidFile, NEEDLE, opts.timeoutMs ?? 30_000);
  if (existsSync(join(dir, "cds-pending"))) {
    await finishCdsDump(opts.jars ?? (await ensureKafkaJars()), dir, result === "terminated");
  }
  return result;
}
