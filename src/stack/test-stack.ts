import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./free-port.js";
import { ensureKafkaJars } from "./kafka-jars.js";
import { kafkaBrokers, kafkaPid, startKafkaNode, stopKafkaNode, type KafkaNodeOptions } from "./kafka-node.js";
import { clusterNodeOptions } from "./kafka-cluster.js";
import { redisPid, redisUrl, startRedisNode, stopRedisNode } from "./redis-node.js";

/**
 * A fresh, isolated Kafka + Redis for one test run (vitest globalSetup): free ports, a temp dir, nothing shared
 * with the dev stack. Kafka runs with C1-only JIT for a faster start: one node, or a cluster of `brokers` nodes
 * (three replicas, two in sync) whose brokers a fault test can stop, kill, freeze and restart one by one.
 */

export interface TestStackOptions {
  /** Must be empty or absent; it is created and removed by close(). Default: a new dir under os.tmpdir(). */
  dataDir?: string;
  /** Kafka nodes (default 1). */
  brokers?: number;
  /**
   * One port per broker where the caller runs something in front of it (a fault-injecting proxy):
   * each broker gets a second listener, advertised at that port, which the front forwards to
   * (`TestBroker.frontTarget`). Clients given `frontBrokerList` then reach Kafka only through the fronts.
   */
  fronts?: readonly number[];
  /**
   * Also serve clients the way production does (one broker only): Kafka on a SASL_SSL listener with
   * a SCRAM-SHA-512 user, Redis on a TLS port with an ACL user (and its default user off). The
   * certificate and key (PEM) must name 127.0.0.1. Reached through `TestStack.secure`.
   */
  secure?: TestStackSecurity;
  log?: (line: string) => void;
}

export type TestStackSecurity = {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly kafkaUser: string;
  readonly kafkaPassword: string;
  readonly redisUser: string;
  readonly redisPassword: string;
};

export interface StopOptions {
  /** SIGKILL at once instead of a graceful SIGTERM, to simulate a crash. */
  kill?: boolean;
}

/** One Kafka node of the stack. */
export interface TestBroker {
  readonly nodeId: number;
  readonly port: number;
  /** The listener its front forwards to (with `fronts`). */
  readonly frontTarget?: number;
  /** Its pid while it runs. */
  pid(): number | undefined;
  stop(opts?: StopOptions): Promise<void>;
  /** Start it again on the same port and data and wait until healthy. */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(): void;
  resume(): void;
}

export interface TestStack {
  dataDir: string;
  /** 127.0.0.1:<port> of the first broker, for WEIR_KAFKA_BROKERS and kafkajs `brokers`. */
  kafkaBrokers: string;
  /** Every broker's 127.0.0.1:<port>. */
  kafkaBrokerList: string[];
  /** The fronts' 127.0.0.1:<port> (with `fronts`; else the same as kafkaBrokerList). */
  frontBrokerList: string[];
  kafkaPort: number;
  brokers: readonly TestBroker[];
  /** Replication factor the stack's topics should have (3 with three brokers or more). */
  replicationFactor: number;
  /** redis://127.0.0.1:<port> */
  redisUrl: string;
  /** With `secure`: the SASL_SSL listener's 127.0.0.1:<port>, and rediss://<user>:<password>@127.0.0.1:<tls port>. */
  secure?: { readonly kafkaBrokers: string; readonly redisUrl: string };
  redisPort: number;
  /** Stop every broker; their data and ports are kept for startKafka(). */
  stopKafka(opts?: StopOptions): Promise<void>;
  /** Start them again on the same ports and data and wait until healthy. */
  startKafka(): Promise<void>;
  stopRedis(opts?: StopOptions): Promise<void>;
  startRedis(): Promise<void>;
  redisPid(): number | undefined;
  /** SIGSTOP / SIGCONT: the process keeps its sockets but answers nothing (a frozen service, not a dead one). */
  pause(service: "kafka" | "redis"): void;
  resume(service: "kafka" | "redis"): void;
  /** Stop both and remove the data dir. Safe to call twice. */
  close(): Promise<void>;
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "weir-test-stack-"));
  mkdirSync(dataDir, { recursive: true });
  if (readdirSync(dataDir).length > 0) throw new Error(`startTestStack: ${dataDir} is not empty`);
  const kDir = join(dataDir, "kafka");
  const rDir = join(dataDir, "redis");
  const count = opts.brokers ?? 1;
  if (opts.fronts && opts.fronts.length !== count) throw new Error(`startTestStack: ${opts.fronts.length} fronts for ${count} brokers`);
  if (opts.secure && count !== 1) throw new Error("startTestStack: `secure` takes one broker");
  const ports = await freePorts(3 * count + 3);
  const redisPort = ports[3 * count]!;
  const [secureKafkaPort, redisTlsPort] = [ports[3 * count + 1]!, ports[3 * count + 2]!];
  const secure = opts.secure;
  mkdirSync(kDir, { recursive: true });
  const keystorePemFile = join(kDir, "secure-keystore.pem");
  // Kafka's PEM keystore: the private key and the certificate chain in one file.
  if (secure) writeFileSync(keystorePemFile, readFileSync(secure.keyFile, "utf8") + readFileSync(secure.certFile, "utf8"));
  const jars = await ensureKafkaJars(opts.log ? { log: opts.log } : {});
  const nodePorts = Array.from({ length: count }, (_, i) => ({
    port: ports[3 * i]!,
    controllerPort: ports[3 * i + 1]!,
    ...(opts.fronts ? { front: { port: ports[3 * i + 2]!, advertisedPort: opts.fronts[i]! } } : {}),
  }));
  const nodes: KafkaNodeOptions[] =
    count === 1
      ? [
          {
            dir: kDir,
            ...nodePorts[0]!,
            jars,
            quickStart: true,
            ...(secure ? { secure: { port: secureKafkaPort, keystorePemFile, username: secure.kafkaUser, password: secure.kafkaPassword } } : {}),
          },
        ]
      : clusterNodeOptions({ dir: kDir, nodes: nodePorts, jars, quickStart: true });

  const signal = (pid: number | undefined, sig: NodeJS.Signals) => {
    try {
      if (pid !== undefined) process.kill(pid, sig);
    } catch {
      // exited meanwhile
    }
  };
  // If the test process exits without close(), do not leave JVMs, a redis and their data behind (they run
  // detached). 'exit' handlers must be synchronous, hence SIGKILL and rmSync.
  const onExit = () => {
    for (const pid of [...nodes.map((n) => kafkaPid(n.dir)), redisPid(rDir)]) signal(pid, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", onExit);

  const brokers: TestBroker[] = nodes.map((node, i) => ({
    nodeId: i + 1,
    port: node.port,
    ...(node.front ? { frontTarget: node.front.port } : {}),
    pid: () => kafkaPid(node.dir),
    stop: async (o = {}) => {
      signal(kafkaPid(node.dir), "SIGCONT");
      await stopKafkaNode(node.dir, { jars, timeoutMs: o.kill ? 0 : 30_000 });
    },
    start: async () => {
      await startKafkaNode(node);
    },
    pause: () => signal(kafkaPid(node.dir), "SIGSTOP"),
    resume: () => signal(kafkaPid(node.dir), "SIGCONT"),
  }));

  let closed = false;
  const stack: TestStack = {
    dataDir,
    kafkaBrokers: kafkaBrokers(nodes[0]!.port),
    kafkaBrokerList: nodes.map((n) => kafkaBrokers(n.port)),
    frontBrokerList: nodes.map((n) => kafkaBrokers(n.front?.advertisedPort ?? n.port)),
    kafkaPort: nodes[0]!.port,
    brokers,
    replicationFactor: count >= 3 ? 3 : 1,
    redisUrl: redisUrl(redisPort),
    redisPort,
    ...(secure
      ? {
          secure: {
            kafkaBrokers: kafkaBrokers(secureKafkaPort),
            redisUrl: `rediss://${encodeURIComponent(secure.redisUser)}:${encodeURIComponent(secure.redisPassword)}@127.0.0.1:${redisTlsPort}`,
          },
        }
      : {}),
    stopKafka: async (o = {}) => {
      await Promise.all(brokers.map((b) => b.stop(o)));
    },
    startKafka: async () => {
      await Promise.all(brokers.map((b) => b.start()));
    },
    stopRedis: async (o = {}) => {
      signal(redisPid(rDir), "SIGCONT");
      await stopRedisNode(rDir, o.kill ? 0 : 10_000);
    },
    startRedis: async () => {
      await startRedisNode({
        dir: rDir,
        port: redisPort,
        ...(secure
          ? {
              secure: {
                tlsPort: redisTlsPort,
                certFile: secure.certFile,
                keyFile: secure.keyFile,
                caFile: secure.caFile,
                username: secure.redisUser,
                password: secure.redisPassword,
              },
            }
          : {}),
      });
    },
    redisPid: () => redisPid(rDir),
    pause: (service) => {
      if (service === "redis") signal(redisPid(rDir), "SIGSTOP");
      else for (const b of brokers) b.pause();
    },
    resume: (service) => {
      if (service === "redis") signal(redisPid(rDir), "SIGCONT");
      else for (const b of brokers) b.resume();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      process.removeListener("exit", onExit);
      stack.resume("kafka");
      stack.resume("redis");
      await Promise.allSettled([...nodes.map((n) => stopKafkaNode(n.dir, { jars })), stopRedisNode(rDir)]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all([stack.startKafka(), stack.startRedis()]);
  } catch (err) {
    await stack.close();
    throw err;
  }
  return stack;
}
