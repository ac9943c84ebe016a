import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./free-port.js";
import { ensureKafkaJars } from "./kafka-jars.js";
import { kafkaBrokers, kafkaPid, startKafkaNode, stopKafkaNode } from "./kafka-node.js";
import { redisPid, redisUrl, startRedisNode, stopRedisNode } from "./redis-node.js";

/**
 * A fresh, isolated Kafka + Redis for one test run (vitest globalSetup): free ports, a temp dir, nothing shared
 * with the dev stack. Kafka runs with C1-only JIT for a faster start.
 */

export interface TestStackOptions {
  /** Must be empty or absent; it is created and removed by close(). Default: a new dir under os.tmpdir(). */
  dataDir?: string;
  log?: (line: string) => void;
}

export interface StopOptions {
  /** SIGKILL at once instead of a graceful SIGTERM, to simulate a crash. */
  kill?: boolean;
}

export interface TestStack {
  dataDir: string;
  /** 127.0.0.1:<port>, for WEIR_KAFKA_BROKERS and kafkajs `brokers`. */
  kafkaBrokers: string;
  kafkaPort: number;
  /** redis://127.0.0.1:<port> */
  redisUrl: string;
  redisPort: number;
  /** Stop the broker; its data and ports are kept for startKafka(). */
  stopKafka(opts?: StopOptions): Promise<void>;
  /** Start it again on the same port and data and wait until healthy. */
  startKafka(): Promise<void>;
  stopRedis(opts?: StopOptions): Promise<void>;
  startRedis(): Promise<void>;
  /** Stop both and remove the data dir. Safe to call twice. */
  close(): Promise<void>;
}

export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "weir-test-stack-"));
  mkdirSync(dataDir, { recursive: true });
  if (readdirSync(dataDir).length > 0) throw new Error(`startTestStack: ${dataDir} is not empty`);
  const kDir = join(dataDir, "kafka");
  const rDir = join(dataDir, "redis");
  const [kafkaPort, controllerPort, redisPort] = (await freePorts(3)) as [number, number, number];
  const jars = await ensureKafkaJars(opts.log ? { log: opts.log } : {});
  const kafkaOpts = { dir: kDir, port: kafkaPort, controllerPort, jars, quickStart: true };

  // If the test process exits without close(), do not leave a JVM, a redis and their data behind (they run
  // detached). 'exit' handlers must be synchronous, hence SIGKILL and rmSync.
  const onExit = () => {
    for (const pid of [kafkaPid(kDir), redisPid(rDir)]) {
      try {
        if (pid !== undefined) process.kill(pid, "SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", onExit);

  let closed = false;
  const stack: TestStack = {
    dataDir,
    kafkaBrokers: kafkaBrokers(kafkaPort),
    kafkaPort,
    redisUrl: redisUrl(redisPort),
    redisPort,
    stopKafka: async (o = {}) => {
      await stopKafkaNode(kDir, { jars, timeoutMs: o.kill ? 0 : 30_000 });
    },
    startKafka: async () => {
      await startKafkaNode(kafkaOpts);
    },
    stopRedis: async (o = {}) => {
      await stopRedisNode(rDir, o.kill ? 0 : 10_000);
    },
    startRedis: async () => {
      await startRedisNode({ dir: rDir, port: redisPort });
    },
    close: async () => {
      if (closed) return;
      closed = true;
      process.removeListener("exit", onExit);
      await Promise.allSettled([stopKafkaNode(kDir, { jars }), stopRedisNode(rDir)]);
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
