/**
 * What the chaos suite runs its faults on: the 3-broker stack (replication 3, min ISR 2), Redis
 * and (for the gateways) each broker behind a fault-injecting TCP proxy, two gateways, two processors of the error-rate job and a
 * client process with a file outbox streaming to both gateways. Processes that a fault kills are
 * started again by the fault (a supervisor's job); anything that exits on its own is started again
 * here and counted (a processor that gives up exits non-zero by design).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { startGatewayChild, type GatewayChild } from "../integration/gateway-child.js";
import { startProcessorChild, type ProcessorChild } from "../integration/processor-child.js";
import { startChildProcess, type WeirChild } from "../integration/weir-child.js";
import { TcpProxy } from "../integration/tcp-proxy.js";

export const TENANT = "chaos";
export const JOB = "error-rate";

export type Progress = { readonly atMs: number; readonly queued: number; readonly maxAcked: number; readonly low: number };

export type ChaosWorld = {
  readonly stack: TestStack;
  readonly redisProxy: TcpProxy;
  /** One proxy in front of each broker: the gateways reach Kafka only through these. */
  readonly kafkaProxies: readonly TcpProxy[];
  readonly gateways: GatewayChild[];
  readonly processors: ProcessorChild[];
  client: WeirChild & { readonly exit: Promise<void> };
  /** Client progress lines so far, over every client process. */
  readonly progress: Progress[];
  readonly rate: number;
  readonly t0: number;
  readonly prefix: string;
  /** Processes that exited without a fault asking for it (and were started again). */
  readonly unexpectedExits: string[];
  latest(): Progress;
  restartGateway(i: number): Promise<void>;
  restartProcessor(i: number): Promise<void>;
  /** Starts the client process again on the same outbox, from the event after the last one it queued. */
  restartClient(): Promise<void>;
  /** Stops the client's sending and waits until everything it queued is answered. */
  drainClient(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
};

const CLIENT_SCRIPT = "test/chaos/chaos-client.ts";

export async function startChaosWorld(opts: { rate: number; prefix: string; log: (line: string) => void }): Promise<ChaosWorld> {
  // The brokers advertise the proxies' ports on a second listener, so a client bootstrapped through
  // a proxy is sent to the other proxies too, never around them.
  const kafkaProxies = await Promise.all([0, 1, 2].map(() => TcpProxy.start()));
  const stack = await startTestStack({ brokers: 3, fronts: kafkaProxies.map((p) => p.port) });
  stack.brokers.forEach((b, i) => (kafkaProxies[i]!.targetPort = b.frontTarget!));
  const redisProxy = await TcpProxy.start(stack.redisPort);
  const brokers = stack.kafkaBrokerList.join(",");
  const services = { kafkaBrokers: stack.frontBrokerList.join(","), redisUrl: `redis://127.0.0.1:${redisProxy.port}` };
  const common = { WEIR_TOPIC_REPLICATION: "3", WEIR_LOG_LEVEL: "warn" };
  const outboxDir = mkdtempSync(join(tmpdir(), "weir-chaos-outbox-"));
  // CHAOS_STATE_ON_DISK=1: the processors keep their tasks' state on disk, one directory each (decision 0026).
  const stateDir = process.env.CHAOS_STATE_ON_DISK === "1" ? mkdtempSync(join(tmpdir(), "weir-chaos-state-")) : undefined;
  const unexpectedExits: string[] = [];
  let closing = false;

  const gatewayAt = (i: number) =>
    startGatewayChild({ services, gatewayId: `chaos-gw-${i}`, apiKeys: [`${TENANT}:k`], env: { ...common, WEIR_LOG_LEVEL: "info" } });
  const processorAt = (i: number) =>
    startProcessorChild({
      brokers,
      job: JOB,
      groupPrefix: "weir-chaos",
      instanceId: `chaos-proc-${i}`,
      threads: 1,
      env: { ...common, WEIR_LOG_LEVEL: "info", WEIR_PROCESSOR_STALL_MS: "15000", ...(stateDir ? { WEIR_STATE_DIR: join(stateDir, String(i)) } : {}) },
    });

  const gateways = await Promise.all([0, 1].map(gatewayAt));
  const processors = [0, 1].map(processorAt);
  await Promise.all(processors.map((p) => p.waitForLog(/processor jobs running/, { timeoutMs: 180_000 })));

  const progress: Progress[] = [];
  const t0 = Date.now();
  const startClient = (from: number) => {
    const child = startChildProcess(
      "chaos client",
      process.execPath,
      [
        "--import",
        "tsx",
        CLIENT_SCRIPT,
        gateways.map((g) => g.url).join(","),
        TENANT,
        "k",
        join(outboxDir, "outbox.log"),
        opts.prefix,
        String(from),
        String(opts.rate),
        String(t0),
      ],
      process.env,
    );
    child.process.stdout?.on("data", (d: Buffer) => {
      for (const line of d.toString().split("\n")) {
        if (!line.startsWith("progress ")) continue;
        try {
          progress.push({ atMs: Date.now(), ...(JSON.parse(line.slice(9)) as Omit<Progress, "atMs">) });
        } catch {
          // a line cut by SIGKILL
        }
      }
    });
    return child;
  };

  const world: ChaosWorld = {
    stack,
    redisProxy,
    kafkaProxies,
    gateways,
    processors,
    client: startClient(0),
    progress,
    rate: opts.rate,
    t0,
    prefix: opts.prefix,
    unexpectedExits,
    latest: () => progress.at(-1) ?? { atMs: Date.now(), queued: -1, maxAcked: -1, low: 0 },
    async restartGateway(i) {
      world.gateways[i] = await gatewayAt(i);
      watch(world.gateways[i], () => world.restartGateway(i));
    },
    async restartProcessor(i) {
      world.processors[i] = processorAt(i);
      watch(world.processors[i], () => world.restartProcessor(i));
      await world.processors[i].waitForLog(/processor jobs running/, { timeoutMs: 180_000 });
    },
    async restartClient() {
      world.client = startClient(world.latest().queued + 1);
      await waitUntil(() => world.progress.length > 0 && world.progress.at(-1)!.atMs > Date.now() - 1000, "the restarted client's progress", 60_000);
    },
    async drainClient(timeoutMs) {
      world.client.process.kill("SIGUSR2");
      await world.client.waitForLog(/^done /, { timeoutMs });
      await world.client.exit;
    },
    async close() {
      closing = true;
      await world.client.kill("SIGKILL");
      await Promise.all([...world.processors, ...world.gateways].map((c) => c.stop(15_000)));
      await Promise.all([redisProxy, ...kafkaProxies].map((p) => p.close()));
      await stack.close();
      rmSync(outboxDir, { recursive: true, force: true });
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };

  /** A process that exits while no fault killed it is logged and started again. */
  const watch = (
    child: WeirChild & { process: { once(e: "exit", f: (code: number | null, sig: string | null) => void): unknown } },
    restart: () => Promise<void>,
  ) => {
    child.process.once("exit", (code, signal) => {
      if (closing || signal === "SIGKILL" || signal === "SIGTERM") return;
      unexpectedExits.push(`${child.name} exited (code ${code}, signal ${signal})`);
      opts.log(`${child.name} exited on its own (code ${code}); starting it again`);
      void restart().catch((err: unknown) => opts.log(`restarting ${child.name} failed: ${(err as Error).message}`));
    });
  };
  gateways.forEach((g, i) => watch(g, () => world.restartGateway(i)));
  processors.forEach((p, i) => watch(p, () => world.restartProcessor(i)));
  return world;
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`chaos: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}
