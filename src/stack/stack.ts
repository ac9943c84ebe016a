import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePorts } from "./free-port.js";
import { ensureKafkaJars } from "./kafka-jars.js";
import { kafkaBrokers, kafkaHealthy, kafkaPaths, kafkaPid, startKafkaNode, stopKafkaNode } from "./kafka-node.js";
import { clusterBrokers, clusterNodeDir, clusterPids, startKafkaCluster, stopKafkaCluster, type KafkaClusterPorts } from "./kafka-cluster.js";
import { redisPaths, redisPid, redisPing, redisUrl, startRedisNode, stopRedisNode } from "./redis-node.js";
import { ensureJaegerBinary, jaegerPid, startJaegerNode, stopJaegerNode, type JaegerPorts } from "./jaeger-node.js";

/** The persistent dev stack behind `weir stack up|down|status`; state lives in a dot-folder of the project. */

export interface StackOptions {
  /** Default: `<cwd>/.weir/stack`. */
  dataDir?: string;
  cwd?: string;
  /** Settings output (env lines, status table). Default: stdout. */
  out?: (line: string) => void;
  /** Progress messages. Default: stderr, so `eval "$(weir stack up)"` only sees the env lines. */
  log?: (line: string) => void;
  /** Also run Jaeger (built from the Go module proxy on first use) and print WEIR_OTLP_ENDPOINT. */
  withJaeger?: boolean;
  /**
   * Kafka nodes (default 1). Three: one KRaft quorum of three broker+controller nodes, every topic
   * with three replicas and two in sync; `up` then also prints WEIR_TOPIC_REPLICATION=3. Fixed
   * when a data dir is first set up.
   */
  brokers?: number;
}

export interface KafkaServiceInfo {
  pid: number | undefined;
  port: number;
  controllerPort: number;
  /** Pid alive and answering an admin listTopics. */
  healthy: boolean;
  dir: string;
  log: string;
}

export interface RedisServiceInfo {
  pid: number | undefined;
  port: number;
  /** Pid alive and answering PING. */
  healthy: boolean;
  dir: string;
  log: string;
}

export interface StackInfo {
  dataDir: string;
  /** Value for WEIR_KAFKA_BROKERS, e.g. 127.0.0.1:40123 (comma-separated with several brokers) */
  kafkaBrokers: string;
  /** Replication factor for the topics Weir creates (WEIR_TOPIC_REPLICATION). */
  replication: number;
  /** With several brokers: each node's pid and port. */
  cluster?: { pid: number | undefined; port: number }[];
  /** Value for WEIR_REDIS_URL, e.g. redis://127.0.0.1:40124 */
  redisUrl: string;
  kafka: KafkaServiceInfo;
  redis: RedisServiceInfo;
  /** When the stack runs Jaeger: where traces go (WEIR_OTLP_ENDPOINT) and its query API/UI. */
  jaeger?: { pid: number | undefined; otlpEndpoint: string; queryUrl: string };
}

/** Ports chosen on the first `up` and kept: the formatted KRaft quorum records the controller endpoint. */
interface StackFile {
  version: 1;
  kafka: { port: number; controllerPort: number };
  redis: { port: number };
  /** Added by the first `up --with jaeger`. */
  jaeger?: JaegerPorts;
  /** A stack set up with several brokers: their ports (`kafka` is the first of them). */
  kafkaCluster?: KafkaClusterPorts;
}

export function defaultDataDir(cwd = process.cwd()): string {
  return join(cwd, ".weir", "stack");
}

function resolveDataDir(opts: StackOptions): string {
  return resolve(opts.cwd ?? process.cwd(), opts.dataDir ?? defaultDataDir(opts.cwd));
}

const stackFilePath = (dataDir: string) => join(dataDir, "stack.json");
const kafkaDir = (dataDir: string) => join(dataDir, "kafka");
const redisDir = (dataDir: string) => join(dataDir, "redis");
const jaegerDir = (dataDir: string) => join(dataDir, "jaeger");

function readStackFile(dataDir: string): StackFile | undefined {
  const file = stackFilePath(dataDir);
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, "utf8")) as StackFile;
  if (parsed.version !== 1) throw new Error(`${file}: unsupported version ${String(parsed.version)}; delete ${dataDir}`);
  return parsed;
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

async function loadOrCreateStackFile(dataDir: string, log: (line: string) => void, brokers = 1): Promise<StackFile> {
  const existing = readStackFile(dataDir);
  if (existing) {
    const has = existing.kafkaCluster?.length ?? 1;
    if (has !== brokers)
      throw new Error(`${dataDir} holds a ${has}-broker stack, not ${brokers}: run \`weir stack down --purge\` first, or use another --data-dir`);
    return existing;
  }
  // Without stack.json, any leftover service data was made for other ports; it cannot be reused.
  if (kafkaPid(kafkaDir(dataDir)) !== undefined || redisPid(redisDir(dataDir)) !== undefined) {
    throw new Error(`${stackFilePath(dataDir)} is missing but services are running; stop them first`);
  }
  if (existsSync(kafkaDir(dataDir)) || existsSync(redisDir(dataDir))) log(`weir stack: resetting ${dataDir} (no stack.json)`);
  rmSync(kafkaDir(dataDir), { recursive: true, force: true });
  rmSync(redisDir(dataDir), { recursive: true, force: true });
  const ports = await freePorts(2 * brokers + 1);
  const nodes = Array.from({ length: brokers }, (_, i) => ({ port: ports[2 * i]!, controllerPort: ports[2 * i + 1]! }));
  const file: StackFile = { version: 1, kafka: nodes[0]!, redis: { port: ports[2 * brokers]! }, ...(brokers > 1 ? { kafkaCluster: nodes } : {}) };
  mkdirSync(dataDir, { recursive: true });
  writeAtomic(stackFilePath(dataDir), `${JSON.stringify(file, null, 2)}\n`);
  return file;
}

/** The directory of the (first) Kafka node. */
const firstKafkaDir = (dataDir: string, file: StackFile) => (file.kafkaCluster ? clusterNodeDir(kafkaDir(dataDir), 0) : kafkaDir(dataDir));

async function describe(dataDir: string, file: StackFile): Promise<StackInfo> {
  const kDir = firstKafkaDir(dataDir, file);
  const kPid = kafkaPid(kDir);
  const rPid = redisPid(redisDir(dataDir));
  const [kOk, rOk] = await Promise.all([kPid === undefined ? false : kafkaHealthy(file.kafka.port), rPid === undefined ? false : redisPing(file.redis.port)]);
  const cluster = file.kafkaCluster;
  return {
    dataDir,
    kafkaBrokers: cluster ? clusterBrokers(cluster).join(",") : kafkaBrokers(file.kafka.port),
    replication: cluster && cluster.length >= 3 ? 3 : 1,
    ...(cluster ? { cluster: clusterPids(kafkaDir(dataDir), cluster.length).map((pid, i) => ({ pid, port: cluster[i]!.port })) } : {}),
    redisUrl: redisUrl(file.redis.port),
    kafka: { pid: kPid, ...file.kafka, healthy: kOk, dir: kDir, log: kafkaPaths(kDir).brokerLog },
    redis: { pid: rPid, ...file.redis, healthy: rOk, dir: redisDir(dataDir), log: redisPaths(redisDir(dataDir)).log },
    ...(file.jaeger
      ? {
          jaeger: {
            pid: jaegerPid(jaegerDir(dataDir)),
            otlpEndpoint: `http://127.0.0.1:${file.jaeger.otlpHttp}`,
            queryUrl: `http://127.0.0.1:${file.jaeger.query}`,
          },
        }
      : {}),
  };
}

/** The settings as env lines; `up` prints them and writes them to `<dataDir>/env`. */
export function stackEnvLines(info: Pick<StackInfo, "kafkaBrokers" | "redisUrl" | "jaeger"> & { replication?: number }): string[] {
  return [
    `WEIR_KAFKA_BROKERS=${info.kafkaBrokers}`,
    ...(info.replication !== undefined && info.replication > 1 ? [`WEIR_TOPIC_REPLICATION=${info.replication}`] : []),
    `WEIR_REDIS_URL=${info.redisUrl}`,
    ...(info.jaeger?.pid !== undefined ? [`WEIR_OTLP_ENDPOINT=${info.jaeger.otlpEndpoint}`] : []),
  ];
}

/** Starts whatever is not running (keeping ports and data), waits for health, prints and writes the env lines. */
export async function stackUp(opts: StackOptions = {}): Promise<StackInfo> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const log = opts.log ?? ((line: string) => console.error(line));
  const dataDir = resolveDataDir(opts);
  const file = await loadOrCreateStackFile(dataDir, log, opts.brokers ?? readStackFile(dataDir)?.kafkaCluster?.length ?? 1);
  const jars = await ensureKafkaJars({ log: (m) => log(`weir stack: ${m}`) });
  const started: string[] = [];
  await Promise.all([
    (async () => {
      const cluster = file.kafkaCluster;
      if (cluster) {
        const down = clusterPids(kafkaDir(dataDir), cluster.length).filter((pid) => pid === undefined).length;
        if (down > 0) started.push(`${down} kafka brokers`);
        await startKafkaCluster({ dir: kafkaDir(dataDir), nodes: cluster, jars });
        return;
      }
      if (kafkaPid(kafkaDir(dataDir)) === undefined) started.push("kafka");
      await startKafkaNode({ dir: kafkaDir(dataDir), ...file.kafka, jars });
    })(),
    (async () => {
      if (redisPid(redisDir(dataDir)) === undefined) started.push("redis");
      await startRedisNode({ dir: redisDir(dataDir), port: file.redis.port });
    })(),
  ]);
  if (opts.withJaeger) {
    if (!file.jaeger) {
      const [otlpHttp, query, queryGrpc] = (await freePorts(3)) as [number, number, number];
      file.jaeger = { otlpHttp, query, queryGrpc };
      writeAtomic(stackFilePath(dataDir), `${JSON.stringify(file, null, 2)}\n`);
    }
    const binary = ensureJaegerBinary({ log: (m) => log(`weir stack: ${m}`) });
    if (jaegerPid(jaegerDir(dataDir)) === undefined) started.push("jaeger");
    await startJaegerNode({ dir: jaegerDir(dataDir), ports: file.jaeger, binary });
    log(`weir stack: Jaeger query API http://127.0.0.1:${file.jaeger.query}/api/traces/<trace id>`);
  }
  log(started.length > 0 ? `weir stack: started ${started.join(", ")} (data in ${dataDir})` : "weir stack: already running");
  const info = await describe(dataDir, file);
  const lines = stackEnvLines(info);
  writeAtomic(join(dataDir, "env"), `${lines.join("\n")}\n`);
  for (const line of lines) out(line);
  return info;
}

/** Stops both services by pid; data and ports are kept for the next `up` unless `purge` is set. */
export async function stackDown(opts: StackOptions & { purge?: boolean } = {}): Promise<void> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const dataDir = resolveDataDir(opts);
  const brokers = readStackFile(dataDir)?.kafkaCluster?.length;
  const stopKafka = async () => {
    if (!brokers) return stopKafkaNode(kafkaDir(dataDir));
    const results = await stopKafkaCluster(kafkaDir(dataDir), brokers);
    return results.every((r) => r === "not-running") ? "not-running" : results.find((r) => r !== "not-running")!;
  };
  const [k, r, j] = await Promise.all([stopKafka(), stopRedisNode(redisDir(dataDir)), stopJaegerNode(jaegerDir(dataDir))]);
  if (j !== "not-running") out(`jaeger stopped (${j})`);
  out(`kafka ${k === "not-running" ? "was not running" : `stopped (${k})`}`);
  out(`redis ${r === "not-running" ? "was not running" : `stopped (${r})`}`);
  if (opts.purge) {
    rmSync(dataDir, { recursive: true, force: true });
    out(`removed ${dataDir}`);
  }
}

export const STACK_SERVICES = ["kafka", "redis", "jaeger"] as const;
export type StackService = (typeof STACK_SERVICES)[number];

/** Stops one service (gracefully) and brings the stack up again: the service restarts on its ports with its data. */
export async function stackRestart(service: StackService, opts: StackOptions = {}): Promise<StackInfo> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const dataDir = resolveDataDir(opts);
  const file = readStackFile(dataDir);
  if (!file) throw new Error(`no stack in ${dataDir} (run: weir stack up)`);
  const stopped =
    service === "kafka"
      ? file.kafkaCluster
        ? ((await stopKafkaCluster(kafkaDir(dataDir), file.kafkaCluster.length)).find((r) => r !== "not-running") ?? "not-running")
        : await stopKafkaNode(kafkaDir(dataDir))
      : service === "redis"
        ? await stopRedisNode(redisDir(dataDir))
        : await stopJaegerNode(jaegerDir(dataDir));
  out(`${service} ${stopped === "not-running" ? "was not running" : `stopped (${stopped})`}`);
  return stackUp({ ...opts, withJaeger: service === "jaeger" || file.jaeger !== undefined });
}

/** Prints one line per service; returns undefined when no stack was ever set up in this data dir. */
export async function stackStatus(opts: StackOptions = {}): Promise<StackInfo | undefined> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const dataDir = resolveDataDir(opts);
  const file = readStackFile(dataDir);
  if (!file) {
    out(`no stack in ${dataDir} (run: weir stack up)`);
    return undefined;
  }
  const info = await describe(dataDir, file);
  const state = (pid: number | undefined, healthy: boolean) => (pid === undefined ? "down" : healthy ? `up (pid ${pid})` : `unhealthy (pid ${pid})`);
  if (info.cluster)
    for (const [i, node] of info.cluster.entries())
      out(`kafka broker ${i + 1} ${node.pid === undefined ? "down" : `up (pid ${node.pid})`} 127.0.0.1:${node.port}`);
  else out(`kafka ${state(info.kafka.pid, info.kafka.healthy)} ${info.kafkaBrokers}`);
  out(`redis ${state(info.redis.pid, info.redis.healthy)} ${info.redisUrl}`);
  if (info.jaeger) out(`jaeger ${info.jaeger.pid === undefined ? "down" : `up (pid ${info.jaeger.pid})`} ${info.jaeger.queryUrl}`);
  return info;
}
