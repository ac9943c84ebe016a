/**
 * `weir gateway` as a group of ingest processes sharing one port (decision 0022): the first
 * process (the primary) starts its gateway, then forks the others with the port it got; uWS
 * listens with SO_REUSEPORT, so the kernel spreads new connections over all of them. Each process
 * has its own Kafka producer, Redis connection and event loop, and its share of every per-gateway
 * bound (src/config/process-share.ts); the processor jobs run in the primary only.
 *
 * One scrape or /v1/stats request lands on any process; it answers for the group: a worker asks
 * the primary over the IPC channel, the primary collects every process's metrics (prom-client's
 * JSON) and stats, merges them (AggregatorRegistry: counters and gauges summed, histograms merged
 * bucket by bucket) and answers. A worker that does not answer within a second is left out.
 * A worker that dies is started again; workers exit when the primary goes (its IPC channel closes).
 */
import { fork, type ChildProcess } from "node:child_process";
import { AggregatorRegistry } from "prom-client";
import { startGateway, type Gateway, type ProcessGroupView } from "../gateway.js";
import { INGEST_WORKER_ENV } from "../../src/config/process-share.js";
import { mergeStats } from "../group-stats.js";

/** One process's registry as JSON (what AggregatorRegistry.aggregate merges), and its /v1/stats. */
type Collected = { metrics: object[]; stats: unknown };
type Request = { kind: "collect" | "group-metrics" | "group-stats"; id: number };
type Reply = { kind: "reply"; id: number; value: unknown };
type Message = Request | Reply;

const COLLECT_TIMEOUT_MS = 1000;
const RESTART_DELAY_MS = 1000;

/** Request/reply over one IPC channel (either side), answers matched by id. */
class Channel {
  private next = 0;
  private readonly waiting = new Map<number, (value: unknown) => void>();

  constructor(
    private readonly send: (m: Message) => void,
    private readonly answer: (kind: Request["kind"]) => Promise<unknown>,
  ) {}

  request(kind: Request["kind"], timeoutMs: number): Promise<unknown> {
    const id = ++this.next;
    return new Promise((resolve) => {
      // Answered, timed out or not sent: whichever comes first settles the request and forgets it.
      const settle = (value: unknown) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(value);
      };
      const timer = setTimeout(() => settle(undefined), timeoutMs);
      this.waiting.set(id, settle);
      try {
        this.send({ kind, id });
      } catch {
        settle(undefined);
      }
    });
  }

  onMessage(m: Message): void {
    if (m.kind === "reply") {
      this.waiting.get(m.id)?.(m.value);
      return;
    }
    void this.answer(m.kind).then((value) => {
      try {
        this.send({ kind: "reply", id: m.id, value });
      } catch {
        // the other side is gone
      }
    });
  }
}

async function collectLocal(gateway: () => Gateway | undefined): Promise<Collected | undefined> {
  const g = gateway();
  if (!g) return undefined;
  return { metrics: await g.metrics.registry.getMetricsAsJSON(), stats: g.localStats() };
}

/** The primary: its own gateway, then `processes - 1` workers on its port. Resolves with a stop function. */
export async function startIngestGroup(
  processes: number,
  onFatal: () => void,
): Promise<{ gateway: Gateway; stop(): Promise<void>; signal(sig: NodeJS.Signals): void }> {
  const workers = new Map<number, { child: ChildProcess; channel: Channel }>();
  /** Set once this process's gateway is up (a collect before that leaves it out). */
  const own: { gateway?: Gateway } = {};
  let stopping = false;

  const collectAll = async (): Promise<Collected[]> => {
    const replies = await Promise.all([...workers.values()].map((w) => w.channel.request("collect", COLLECT_TIMEOUT_MS)));
    const mine = await collectLocal(() => own.gateway);
    return [mine, ...replies].filter((c): c is Collected => c !== undefined);
  };
  const groupMetrics = async () => {
    const merged = AggregatorRegistry.aggregate((await collectAll()).map((c) => c.metrics));
    return { contentType: merged.contentType, body: await merged.metrics() };
  };
  const groupStats = async () => {
    const all = (await collectAll()).map((c) => c.stats as { instanceId?: string; ingest?: { ack?: number } });
    return { ...(mergeStats(all) as object), processes: all.map((s) => ({ instanceId: s.instanceId, acked: s.ingest?.ack ?? 0 })) };
  };
  const view: ProcessGroupView = { processes, metrics: groupMetrics, stats: groupStats };

  const gateway = await startGateway({ group: view, onFatal });
  own.gateway = gateway;
  const port = gateway.port;

  const spawnWorker = (index: number) => {
    const child = fork(process.argv[1]!, process.argv.slice(2), {
      env: { ...process.env, WEIR_PORT: String(port), WEIR_PROCESSOR_IN_GATEWAY: "false", [INGEST_WORKER_ENV]: String(processes) },
      stdio: "inherit",
    });
    const channel = new Channel(
      (m) => child.send(m),
      async (kind) => (kind === "collect" ? undefined : kind === "group-metrics" ? groupMetrics() : groupStats()),
    );
    child.on("message", (m: Message) => channel.onMessage(m));
    child.on("exit", (code, signal) => {
      workers.delete(index);
      if (stopping) return;
      gateway.logger.error({ worker: index, code, signal }, "ingest process exited; starting it again");
      setTimeout(() => {
        if (!stopping) spawnWorker(index);
      }, RESTART_DELAY_MS).unref();
    });
    workers.set(index, { child, channel });
  };
  for (let i = 1; i < processes; i++) spawnWorker(i);
  gateway.logger.info({ processes, port }, "ingest processes started");

  return {
    gateway,
    signal: (sig) => {
      for (const { child } of workers.values()) child.kill(sig);
    },
    async stop() {
      stopping = true;
      const exits = [...workers.values()].map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      );
      await Promise.all([gateway.close(), ...exits]);
    },
  };
}

/** A worker: its gateway on the primary's port; the group's pages through the primary. */
export async function startIngestWorker(processes: number, onFatal: () => void): Promise<Gateway> {
  const own: { gateway?: Gateway } = {};
  const channel = new Channel(
    (m) => process.send!(m),
    (kind) => (kind === "collect" ? collectLocal(() => own.gateway) : Promise.resolve(undefined)),
  );
  process.on("message", (m: Message) => channel.onMessage(m));
  const view: ProcessGroupView = {
    processes,
    metrics: async () =>
      ((await channel.request("group-metrics", 2 * COLLECT_TIMEOUT_MS)) as { contentType: string; body: string } | undefined) ?? {
        contentType: "text/plain",
        body: "# the primary did not answer\n",
      },
    stats: async () => (await channel.request("group-stats", 2 * COLLECT_TIMEOUT_MS)) ?? own.gateway?.localStats(),
  };
  const gateway = await startGateway({ group: view, onFatal });
  own.gateway = gateway;
  // The primary is gone (stopped or killed): so is the group.
  process.on("disconnect", () => {
    void gateway.close().finally(() => process.exit(0));
  });
  return gateway;
}
