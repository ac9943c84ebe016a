import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePorts } from "./free-port.js";
import { ensureKafkaJars } from "./kafka-jars.js";
import { kafkaBrokers, kafkaHealthy, kafkaPaths, kafkaPid, startKafkaNode, stopKafkaNode } from "./kafka-node.js";
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
  /** Value for WEIR_KAFKA_BROKERS, e.g. 127.0.0.1:40123 */
  kafkaBrokers: string;
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

async function loadOrCreateStackFile(dataDir: string, log: (line: string) => void): Promise<StackFile> {
  const existing = readStackFile(dataDir);
  if (existing) return existing;
  // Without stack.json, any leftover service data was made for other ports; it cannot be reused.
  if (kafkaPid(kafkaDir(dataDir)) !== undefined || redisPid(redisDir(dataDir)) !== undefined) {
    throw new Error(`${stackFilePath(dataDir)} is missing but services are running; stop them first`);
  }
  if (existsSync(kafkaDir(dataDir)) || existsSync(redisDir(dataDir))) log(`weir stack: resetting ${dataDir} (no stack.json)`);
  rmSync(kafkaDir(dataDir), { recursive: true, force: true });
  rmSync(redisDir(dataDir), { recursive: true, force: true });
  const [kafkaPort, controllerPort, redisPort] = (await freePorts(3)) as [number, number, number];
  const file: StackFile = { version: 1, kafka: { port: kafkaPort, controllerPort }, redis: { port: redisPort } };
  mkdirSync(dataDir, { recursive: true });
  writeAtomic(stackFilePath(dataDir), `${JSON.stringify(file, null, 2)}\n`);
  return file;
}

async function describe(dataDir: string, file: StackFile): Promise<StackInfo> {
  const kPid = kafkaPid(kafkaDir(dataDir));
  const rPid = redisPid(redisDir(dataDir));
  const [kOk, rOk] = await Promise.all([kPid === undefined ? false : kafkaHealthy(file.kafka.port), rPid === undefined ? false : redisPing(file.redis.port)]);
  return {
    dataDir,
    kafkaBrokers: kafkaBrokers(file.kafka.port),
    redisUrl: redisUrl(file.redis.port),
    kafka: { pid: kPid, ...file.kafka, healthy: kOk, dir: kafkaDir(dataDir), log: kafkaPaths(kafkaDir(dataDir)).brokerLog },
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
export function stackEnvLines(info: Pick<StackInfo, "kafkaBrokers" | "redisUrl" | "jaeger">): string[] {
  return [
    `WEIR_KAFKA_BROKERS=${info.kafkaBrokers}`,
    `WEIR_REDIS_URL=${info.redisUrl}`,
    ...(info.jaeger?.pid !== undefined ? [`WEIR_OTLP_ENDPOINT=${info.jaeger.otlpEndpoint}`] : []),
  ];
}

/** Starts whatever is not running (keeping ports and data), waits for health, prints and writes the env lines. */
export async function stackUp(opts: StackOptions = {}): Promise<StackInfo> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const log = opts.log ?? ((line: string) => console.error(line));
  const dataDir = resolveDataDir(opts);
  const file = await loadOrCreateStackFile(dataDir, log);
  const jars = await ensureKafkaJars({ log: (m) => log(`weir stack: ${m}`) });
  const started: string[] = [];
  await Promise.all([
    (async () => {
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
  const [k, r, j] = await Promise.all([stopKafkaNode(kafkaDir(dataDir)), stopRedisNode(redisDir(dataDir)), stopJaegerNode(jaegerDir(dataDir))]);
  if (j !== "not-running") out(`jaeger stopped (${j})`);
  out(`kafka ${k === "not-running" ? "was not running" : `stopped (${k})`}`);
  out(`redis ${r === "not-running" ? "was not running" : `stopped (${r})`}`);
  if (opts.purge) {
    rmSync(dataDir, { recursive: true, force: true });
    out(`removed ${dataDir}`);
  }
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
  out(`kafka ${state(info.kafka.pid, info.kafka.healthy)} ${info.kafkaBrokers}`);
  out(`redis ${state(info.redis.pid, info.redis.healthy)} ${info.redisUrl}`);
  if (info.jaeger) out(`jaeger ${info.jaeger.pid === undefined ? "down" : `up (pid ${info.jaeger.pid})`} ${info.jaeger.queryUrl}`);
  return info;
}
