/**
 * `npm run bench`: brings up the local stack, then measures, one JSON line per scenario:
 *   raw-uws        the same frames into a bare uWebSockets.js server (receive limit)
 *   kafka-limit    Kafka's own ProducerPerformance (Java client, acks=all, idempotent) with records of the
 *                  gateway's size: what the broker takes on this machine (the ceiling)
 *   hand-relay     a relay a user would write by hand (`ws` + a Kafka client, acks after Kafka, several batches
 *                  in flight, no validation or dedup), driven like gateway-max: the baseline to beat; on the
 *                  gateway's default client (confluent, its KafkaJS API) and on kafkajs
 *   gateway-scaling  gateway-max with 1, 2, … (cores) ingest processes (WEIR_INGEST_PROCESSES), with
 *                  the gateway's and the broker's CPU (the broker shares the machine)
 *   raw-producer   records of the same size, key and headers straight into the Kafka client (produce limit),
 *                  and the idle round trip of one batch through the Kafka adapter (latency floor)
 *   gateway-max    closed-loop max rate through a gateway process: acked events/s, ack latency, CPU, RSS
 *   gateway-paced  paced 5k/10k/20k events/s: ack latency p50/p99/p999 from the scheduled send time
 *   overload       3× the sustained rate against a small in-flight bound: shed rate, admitted latency, RSS
 *   engine         windowing, CEP and risk jobs on 1 and 2 worker threads (no Kafka): events/s
 *   processor      the same jobs through the processor runtime on a private Kafka (consumer group,
 *                  threads, exactly-once transactions), 1 and 2 threads: input records/s; each example job also
 *                  keyed by the producers' key (load/bench/jobs/*-by-record-key.ts): the repartition step's cost
 *   subscribe-latency  event → subscriber latency p50/p99/p999 of a raw event stream at paced
 *                  5k/10k/20k events/s (--rates), one subscriber on its own thread
 *   tracing        gateway-max with tracing off, then on (OTLP to a local Jaeger, default sampling
 *                  WEIR_TRACE_SAMPLE_RATIO=0.01): events/s, ack latency, CPU
 *   edge-client    one WeirClient (src/client) as fast as a gateway answers and paced at 5,000/s, with a
 *                  memory / file (no fsync) / file (fsync) outbox: events/s, send → final answer latency
 *   edge-failover  the same client at 5,000 events/s over two gateway processes, the first SIGKILLed
 *                  4 s in: time to the other gateway, until every event in flight at the kill is answered
 *   relay          the same client at 5,000 events/s into the edge relay on Deno (ACK = stored at the
 *                  edge), the relay forwarding to a gateway: device ack latency, the forwarding rate
 *   subscribe-fanout   one stream to 1,000 subscribers (--fanout-subscribers) on two threads at
 *                  100 and 200 events/s (--fanout-rates): delivery latency, deliveries/s, gateway CPU and RSS
 *   state-restore  (only with --only) a job with --state-keys entries of state (default 1,000,000) on a private
 *                  Kafka, then its processor restarted: from the local copy on disk + the changelog's tail, from
 *                  the whole changelog in memory and onto an empty disk; heap --state-heap-mib (default 128)
 * and the ratios of gateway-max to each of them. raw-producer, gateway-max and gateway-20k run for each Kafka client
 * (the shootout); overload runs with the first. Options: --duration S (default 12, of which --warmup S, default 2, is not counted), --only a,b,
 * --clients confluent,kafkajs,platformatic (default: all three, the default client first).
 * The subscribe scenarios use the first client.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { stackUp, startTestJaeger, startTestStack } from "../src/stack/index.js";
import { freePort } from "../src/stack/free-port.js";
import { rawProducerRate } from "./bench/raw-producer.js";
import { isKafkaClient, type KafkaClient } from "../src/adapters/kafka/create-event-log.js";
import { runLoad, type LoadJob, type LoadResult } from "./bench/generator.js";
import { cpuSeconds, peakRssMiB, rssMiB } from "./bench/proc-stats.js";
import { frameFactory } from "./bench/frames.js";
import { produceLatency } from "./bench/produce-latency.js";
import { engineRate, engineWorkload } from "./bench/engine.js";
import { processorRate, produceWorkload } from "./bench/processor.js";
import { stateRestoreBench } from "./bench/state-restore.js";
import { SchemaRegistry } from "../src/schema/registry.js";
import { round } from "./bench/histogram.js";
import { subscribeBench, type Latencies, type SubscribeBenchResult } from "./bench/subscribe-latency.js";
import { edgeClientRate, edgeFailover, type EdgeClientResult, type OutboxKind } from "./bench/edge-client.js";
import { startBenchRelay } from "./bench/relay-process.js";
import { kafkaProducerPerformance } from "./bench/producer-perf.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "12" },
    warmup: { type: "string", default: "2" },
    rates: { type: "string", default: "5000,10000,20000" },
    only: { type: "string" },
    clients: { type: "string", default: "confluent,kafkajs,platformatic" },
    "events-per-frame": { type: "string", default: "100" },
    "fanout-subscribers": { type: "string", default: "1000" },
    "fanout-rates": { type: "string", default: "100,200" },
    "state-keys": { type: "string", default: "1000000" },
    "state-heap-mib": { type: "string", default: "128" },
  },
});
const durationMs = Number(values.duration) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const only = values.only ? new Set(values.only.split(",")) : undefined;
const eventsPerFrame = Number(values["events-per-frame"]);
const runId = Date.now().toString(36);
const tenant = "bench";
const apiKey = "bench-key";
const wanted = (name: string) => !only || only.has(name);
const emit = (line: Record<string, unknown>) => console.log(JSON.stringify(line));
const clients = values.clients.split(",").filter(isKafkaClient);
const paceRates = values.rates.split(",").map(Number);

const stack = await stackUp({ out: () => {}, log: (l) => process.stderr.write(`${l}\n`) });
const machine = { cores: (await import("node:os")).cpus().length, node: process.version };

type GatewayProcess = { child: ChildProcess; url: string; pid: number };

async function startGatewayProcess(client: KafkaClient, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const port = await freePort();
  // BENCH_GATEWAY_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=.cache/prof", profiles the gateway process.
  const nodeArgs = process.env.BENCH_GATEWAY_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, "bin/weir.mjs", "gateway"], {
    env: {
      ...process.env,
      WEIR_PORT: String(port),
      WEIR_KAFKA_BROKERS: stack.kafkaBrokers,
      WEIR_REDIS_URL: stack.redisUrl,
      WEIR_API_KEYS: `${tenant}:${apiKey}`,
      WEIR_LOG_LEVEL: "warn",
      WEIR_KAFKA_CLIENT: client,
      // The ingest figures are the gateway's alone; the engine has its own scenario (--only engine).
      WEIR_PROCESSOR_IN_GATEWAY: "false",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error("gateway not ready within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url: `ws://127.0.0.1:${port}/v1/ingest`, pid: child.pid! };
}

async function stopGatewayProcess(g: GatewayProcess): Promise<void> {
  if (g.child.exitCode !== null || g.child.signalCode !== null) return; // gone already (a scenario killed it)
  g.child.kill("SIGTERM");
  await once(g.child, "exit");
}

/** Runs `job` against a fresh gateway process, measuring its CPU and RSS. */
async function throughGateway(
  client: KafkaClient,
  job: Omit<LoadJob, "url" | "tenant" | "apiKey" | "idPrefix" | "eventsPerFrame" | "warmupMs">,
  env?: Record<string, string>,
) {
  const g = await startGatewayProcess(client, env);
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(rssMiB(g.pid)), 250);
  const cpu0 = cpuSeconds(g.pid);
  const result = await runLoad({ ...job, url: g.url, tenant, apiKey, idPrefix: `${runId}${Math.random().toString(36).slice(2, 5)}`, eventsPerFrame, warmupMs });
  const cpu = (cpuSeconds(g.pid) - cpu0) / (durationMs / 1000);
  clearInterval(sampler);
  const peakRss = peakRssMiB(g.pid);
  await stopGatewayProcess(g);
  return { result, cpu, peakRss, rssSamples };
}

const sustained = new Map<KafkaClient, number>();
const latency = (r: LoadResult) => ({
  ackP50Ms: round(r.latencies.percentile(50)),
  ackP99Ms: round(r.latencies.percentile(99)),
  ackP999Ms: round(r.latencies.percentile(99.9)),
});

let rawUwsEventsPerSec: number | undefined;
let kafkaLimitPerSec: number | undefined;
/** The access-log payload size of the frames (what every scenario's records carry). */
const recordBytes = Math.round(frameFactory("x", eventsPerFrame).bytesPerFrame / eventsPerFrame) - 60;

if (wanted("kafka-limit")) {
  const r = await kafkaProducerPerformance({ brokers: stack.kafkaBrokers, recordBytes, records: 2_000_000 });
  kafkaLimitPerSec = r.recordsPerSec;
  emit({
    scenario: "kafka-limit",
    tool: "ProducerPerformance",
    recordsPerSec: Math.round(r.recordsPerSec),
    recordBytes,
    avgLatencyMs: r.avgLatencyMs,
    p99LatencyMs: r.p99LatencyMs,
  });
}

/** The hand-written relay's rate per Kafka client (the gateway's ratio is against the relay on its own client, else the confluent one). */
const handRelay = new Map<KafkaClient, number>();
/** `rate` as a share of a limit measured in this run (null when that scenario did not run). */
const ratio = (rate: number, of: number | undefined) => (of ? round(rate / of) : null);

if (wanted("hand-relay")) {
  // On the gateway's default client (the issue's "same Kafka client"), and on kafkajs, which a
  // user is as likely to reach for.
  for (const client of ["confluent", "kafkajs"] as const) {
    const child = spawn(process.execPath, ["--import", "tsx", "load/bench/hand-relay.ts"], {
      env: { ...process.env, BENCH_BROKERS: stack.kafkaBrokers, BENCH_CLIENT: client },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error("hand-relay exited before printing its port");
    const port = Number(first.value.split(" ")[1]);
    const cpu0 = cpuSeconds(child.pid!);
    const result = await runLoad({
      url: `ws://127.0.0.1:${port}/`,
      mode: "closed",
      threads: 1,
      connectionsPerThread: 8,
      window: 1000,
      eventsPerFrame,
      durationMs,
      warmupMs,
      idPrefix: `${runId}h${client[0]}`,
      tenant,
      apiKey,
    });
    const cpu = (cpuSeconds(child.pid!) - cpu0) / (durationMs / 1000);
    child.kill("SIGTERM");
    await once(child, "exit");
    const rate = result.acked / result.seconds;
    handRelay.set(client, rate);
    emit({
      scenario: "hand-relay",
      client,
      eventsPerSec: Math.round(rate),
      ...latency(result),
      failed: result.failed,
      relayCpuCores: round(cpu),
      vsKafkaLimit: ratio(rate, kafkaLimitPerSec),
    });
  }
}

if (wanted("raw-uws")) {
  const child = spawn(process.execPath, ["--import", "tsx", "load/bench/raw-uws-server.ts"], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error("raw-uws server exited before printing its port");
  const port = Number(first.value.split(" ")[1]);
  const result = await runLoad({
    url: `ws://127.0.0.1:${port}/`,
    mode: "blast",
    threads: 1,
    connectionsPerThread: 4,
    eventsPerFrame,
    window: 0,
    durationMs,
    warmupMs: 0,
    idPrefix: `${runId}u`,
    tenant,
    apiKey,
  });
  child.kill("SIGTERM");
  const frames = Number(((await lines.next()).value as string).split(" ")[1]);
  rawUwsEventsPerSec = (frames * eventsPerFrame) / result.seconds;
  emit({
    scenario: "raw-uws",
    framesPerSec: Math.round(frames / result.seconds),
    eventsPerSec: Math.round(rawUwsEventsPerSec),
    eventsPerFrame,
    bytesPerFrame: frameFactory("x", eventsPerFrame).bytesPerFrame,
    ...machine,
  });
}

for (const client of clients) {
  let rawProducerPerSec: number | undefined;
  if (wanted("raw-producer")) {
    const r = await rawProducerRate(client, { brokers: stack.kafkaBrokers, topic: "weir.bench.raw", recordBytes, records: 200_000, batch: 500 });
    rawProducerPerSec = r.recordsPerSec;
    emit({ scenario: "raw-producer", client, recordsPerSec: Math.round(r.recordsPerSec), recordBytes, batch: 500 });
    const lat = await produceLatency(client, { brokers: stack.kafkaBrokers, topic: "weir.bench.raw", batch: eventsPerFrame, recordBytes, sends: 300 });
    emit({
      scenario: "raw-produce-latency",
      client,
      batch: eventsPerFrame,
      p50Ms: round(lat.percentile(50)),
      p99Ms: round(lat.percentile(99)),
      p999Ms: round(lat.percentile(99.9)),
    });
  }

  if (wanted("gateway-max")) {
    const { result, cpu, peakRss } = await throughGateway(client, { mode: "closed", threads: 1, connectionsPerThread: 8, window: 1000, durationMs });
    const rate = result.acked / result.seconds;
    sustained.set(client, rate);
    emit({
      scenario: "gateway-max",
      client,
      eventsPerSec: Math.round(rate),
      ...latency(result),
      retried: result.retried,
      failed: result.failed,
      gatewayCpuCores: round(cpu),
      gatewayPeakRssMiB: round(peakRss, 0),
      vsRawProducer: ratio(rate, rawProducerPerSec),
      vsRawUws: ratio(rate, rawUwsEventsPerSec),
      vsHandRelay: ratio(rate, handRelay.get(client) ?? handRelay.get("confluent")),
      vsKafkaLimit: ratio(rate, kafkaLimitPerSec),
    });
  }

  // The latency curve for the default (first) client; the 20k point for every client.
  for (const rate of client === clients[0] ? paceRates : [20_000]) {
    if (!wanted("gateway-paced")) break;
    const { result, cpu, peakRss } = await throughGateway(client, { mode: "paced", rate, threads: 1, connectionsPerThread: 8, window: 2048, durationMs });
    emit({
      scenario: "gateway-paced",
      client,
      offeredPerSec: rate,
      eventsPerSec: Math.round(result.acked / result.seconds),
      ...latency(result),
      retried: result.retried,
      gatewayCpuCores: round(cpu),
      gatewayPeakRssMiB: round(peakRss, 0),
    });
  }
}

if (wanted("gateway-scaling")) {
  const client = clients[0]!;
  const brokerPid = stack.kafka.pid;
  for (let processes = 1; processes <= machine.cores; processes++) {
    const broker0 = brokerPid ? cpuSeconds(brokerPid) : 0;
    const { result, cpu, peakRss } = await throughGateway(
      client,
      { mode: "closed", threads: 1, connectionsPerThread: 8 * processes, window: 1000, durationMs },
      { WEIR_INGEST_PROCESSES: String(processes) },
    );
    const rate = result.acked / result.seconds;
    emit({
      scenario: "gateway-scaling",
      client,
      processes,
      eventsPerSec: Math.round(rate),
      ...latency(result),
      gatewayCpuCores: round(cpu),
      // Over the whole run including start and stop: the broker's share of the machine, roughly.
      brokerCpuCores: brokerPid ? round((cpuSeconds(brokerPid) - broker0) / (durationMs / 1000)) : null,
      gatewayPeakRssMiB: round(peakRss, 0),
      vsHandRelay: ratio(rate, handRelay.get(client) ?? handRelay.get("confluent")),
    });
  }
}

if (wanted("tracing")) {
  // The same closed loop twice: tracing off, then on with the default sampling (1% of events start a
  // trace at the gateway, exported to a real Jaeger).
  const client = clients[0]!;
  const jaeger = await startTestJaeger({ log: (l) => process.stderr.write(`${l}\n`) });
  try {
    for (const [tracing, env] of [
      ["off", {}],
      ["on", { WEIR_OTLP_ENDPOINT: jaeger.otlpEndpoint, WEIR_TRACE_SAMPLE_RATIO: "0.01" }],
    ] as const) {
      const { result, cpu, peakRss } = await throughGateway(client, { mode: "closed", threads: 1, connectionsPerThread: 8, window: 1000, durationMs }, env);
      emit({
        scenario: "tracing",
        tracing,
        client,
        eventsPerSec: Math.round(result.acked / result.seconds),
        ...latency(result),
        gatewayCpuCores: round(cpu),
        gatewayPeakRssMiB: round(peakRss, 0),
      });
    }
  } finally {
    await jaeger.close();
  }
}

if (wanted("engine")) {
  for (const job of ["error-rate", "fraud", "risk-limits"]) {
    const records = engineWorkload(job, 100_000);
    for (const threads of [1, 2]) {
      const r = await engineRate(job, threads, records);
      emit({ scenario: "engine", job, threads, eventsPerSec: Math.round(r.eventsPerSec), outputs: r.outputs });
    }
  }
}

if (wanted("processor")) {
  // A private stack per job: the workload must be the only data in the input topics. The example
  // jobs key their input themselves (a repartition step); each also runs as a job keyed by the
  // producers' key (load/bench/jobs/*-by-record-key.ts): the difference is the repartition step's cost.
  const modules: Array<[job: string, module: string]> = ["error-rate", "fraud", "risk-limits"].flatMap(
    (job): Array<[string, string]> => [
      [job, `weir/examples/jobs/${job}`],
      [job, `./load/bench/jobs/${job}-by-record-key.ts`],
    ],
  );
  const registry = SchemaRegistry.builtin();
  for (const [job, module] of modules) {
    const own = await startTestStack();
    try {
      const workload = engineWorkload(job, 100_000);
      await produceWorkload(own.kafkaBrokers, workload);
      // Streams only: risk's reference data and quotes are tables, read before the clock starts.
      const streamType = { "error-rate": "HttpAccessLog", fraud: "CardTransaction", "risk-limits": "Trade" }[job]!;
      const expected = workload.filter((r) => r.type === registry.eventType(`weir.events.v1.${streamType}`)!.name).length;
      for (const threads of [1, 2]) {
        const r = await processorRate(own.kafkaBrokers, module, threads, expected);
        emit({ scenario: "processor", job, module, threads, recordsPerSec: Math.round(r.recordsPerSec), records: r.records, outputs: r.outputs });
      }
    } finally {
      await own.close();
    }
  }
}

if (only?.has("state-restore")) {
  // Not in the default run (minutes, a private Kafka): --only state-restore.
  await stateRestoreBench(Number(values["state-keys"]), Number(values["state-heap-mib"]), emit);
}

// Subscriptions: a fresh gateway per run, its own tenant (nothing else on the stream), subscriber
// limits large enough that the fan-out measures latency rather than slow-subscriber closes.
const subTenant = `bench-sub-${runId}`;
const subscriberEnv = { WEIR_API_KEYS: `${subTenant}:${apiKey}`, WEIR_SUBSCRIBER_MAX_PENDING: "200000", WEIR_MAX_SEND_BUFFER_BYTES: String(8 * 1024 * 1024) };
const ms = (l: Latencies) => ({ p50: round(l.percentile(50)), p99: round(l.percentile(99)), p999: round(l.percentile(99.9)) });
const subscribeFigures = (r: SubscribeBenchResult) => ({
  eventsPerSec: Math.round(r.publisher.acked / r.seconds),
  latencyMs: ms(r.latency),
  // Where the time goes: send → the gateway read it from Kafka, then read → the subscriber has it.
  toGatewayReadMs: ms(r.toRead),
  readToSubscriberMs: ms(r.fromRead),
  ackMs: ms(r.ack),
  // Received during the window (what the gateway actually pushed out per second).
  deliveriesPerSec: Math.round(r.receivedInWindow / r.seconds),
  deliveryFramesPerSec: Math.round(r.deliveryFrames / r.seconds),
  expectedDeliveries: r.expectedDeliveries,
  missingDeliveries: r.expectedDeliveries - r.delivered,
  subscribersLive: r.live,
  closedEarly: r.closedEarly.length,
  ...(r.closedEarly.length ? { firstCloses: r.closedEarly.slice(0, 3) } : {}),
  retried: r.publisher.retried,
  failed: r.publisher.failed + r.publisher.unanswered,
  subscribeSetupMs: Math.round(r.subscribeSetupMs),
  subscriberThreadElu: r.subscriberElu.map((e) => round(e)),
  gatewayCpuCores: round(r.gatewayCpuCores),
  gatewayPeakRssMiB: round(r.gatewayPeakRssMiB, 0),
});

async function throughSubscriptions(job: {
  rate: number;
  eventsPerFrame: number;
  publisherConnections: number;
  subscribers: number;
  subscriberThreads: number;
  hosts?: readonly string[];
}) {
  const g = await startGatewayProcess(clients[0]!, subscriberEnv);
  try {
    return await subscribeBench({
      ...job,
      ingestUrl: g.url,
      subscribeUrl: g.url.replace("/v1/ingest", "/v1/subscribe"),
      tenant: subTenant,
      apiKey,
      stream: "events.weir.events.v1.HttpAccessLog",
      durationMs,
      warmupMs,
      idPrefix: `${runId}${Math.random().toString(36).slice(2, 5)}`,
      gatewayPid: g.pid,
    });
  } finally {
    await stopGatewayProcess(g);
  }
}

if (wanted("subscribe-latency")) {
  for (const rate of paceRates) {
    const r = await throughSubscriptions({ rate, eventsPerFrame, publisherConnections: 8, subscribers: 1, subscriberThreads: 1 });
    emit({ scenario: "subscribe-latency", client: clients[0], offeredPerSec: rate, eventsPerFrame, ...subscribeFigures(r) });
  }
}

for (const rate of values["fanout-rates"].split(",").map(Number)) {
  if (!wanted("subscribe-fanout")) break;
  const subscribers = Number(values["fanout-subscribers"]);
  // Small frames: events arrive spread over the second, as from many edge clients.
  const r = await throughSubscriptions({ rate, eventsPerFrame: 10, publisherConnections: 2, subscribers, subscriberThreads: 2 });
  emit({
    scenario: "subscribe-fanout",
    client: clients[0],
    subscribers,
    offeredPerSec: rate,
    eventsPerFrame: 10,
    ...subscribeFigures(r),
    gatewayRssEndMiB: round(r.gatewayRssEndMiB, 0),
  });
}

if (wanted("edge-client") || wanted("edge-failover") || wanted("relay")) {
  const client = clients[0]!;
  const g = await startGatewayProcess(client);
  try {
    const run = (urls: string[], outbox: OutboxKind, rate?: number) =>
      edgeClientRate({
        urls,
        tenant,
        apiKey,
        outbox,
        ...(rate ? { rate } : {}),
        durationMs,
        warmupMs,
        idPrefix: `${runId}${Math.random().toString(36).slice(2, 6)}`,
      });
    const figures = (r: EdgeClientResult) => ({
      eventsPerSec: Math.round(r.eventsPerSec),
      ackP50Ms: round(r.latency.percentile(50)),
      ackP99Ms: round(r.latency.percentile(99)),
      sendWaitP99Ms: round(r.sendWait.percentile(99)),
    });
    if (wanted("edge-client")) {
      for (const outbox of ["memory", "file-sync-none", "file-sync-always"] as const) {
        emit({ scenario: "edge-client", client, outbox, offered: "max", ...figures(await run([g.url], outbox)) });
        emit({ scenario: "edge-client", client, outbox, offered: 5000, ...figures(await run([g.url], outbox, 5000)) });
      }
    }
    if (wanted("relay")) {
      const relay = await startBenchRelay(g.url);
      try {
        const r = await run([relay.url], "memory", 5000);
        const drainStart = performance.now();
        let s = await relay.stats();
        while (s.upstream.unanswered > 0) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          s = await relay.stats();
        }
        emit({
          scenario: "relay",
          client,
          offered: 5000,
          relayOutbox: "file-sync-always",
          ...figures(r),
          forwardedPerSec: Math.round(s.upstream.acked / ((performance.now() - relay.startedAt) / 1000)),
          drainAfterStopMs: Math.round(performance.now() - drainStart),
        });
      } finally {
        await relay.stop();
      }
    }
    if (wanted("edge-failover")) {
      // Last (it kills the first gateway): a second gateway; the first is SIGKILLed 4 s into a 5,000 events/s stream.
      const b = await startGatewayProcess(client);
      try {
        const r = await edgeFailover({
          urls: [g.url, b.url],
          tenant,
          apiKey,
          rate: 5000,
          durationMs: Math.max(durationMs, 15_000),
          killAtMs: 4000,
          kill: () => g.child.kill("SIGKILL"),
          idPrefix: `${runId}f${Math.random().toString(36).slice(2, 6)}`,
        });
        emit({
          scenario: "edge-failover",
          client,
          offered: 5000,
          inFlightAtKill: r.inFlightAtKill,
          reconnectMs: round(r.reconnectMs, 0),
          allAnsweredMs: round(r.allAnsweredMs, 0),
          ackP50Ms: round(r.latency.percentile(50)),
          ackP99Ms: round(r.latency.percentile(99)),
          ackMaxMs: round(r.latency.percentile(100), 0),
          acked: r.acked,
          duplicates: r.duplicates,
        });
      } finally {
        await stopGatewayProcess(b);
      }
    }
  } finally {
    await stopGatewayProcess(g);
  }
}

if (wanted("overload")) {
  const client = clients[0]!;
  const offered = Math.round(3 * (sustained.get(client) ?? 20_000));
  const maxInFlight = 8192;
  const { result, cpu, peakRss, rssSamples } = await throughGateway(
    client,
    { mode: "paced", rate: offered, threads: 1, connectionsPerThread: 16, window: 2048, durationMs },
    { WEIR_MAX_IN_FLIGHT_EVENTS: String(maxInFlight) },
  );
  const half = Math.floor(rssSamples.length / 2);
  const maxOf = (xs: number[]) => xs.reduce((m, x) => Math.max(m, x), 0);
  emit({
    scenario: "overload",
    client,
    offeredPerSec: offered,
    sentPerSec: Math.round(result.eventsSent / result.seconds),
    ackedPerSec: Math.round(result.acked / result.seconds),
    shedPerSec: Math.round(result.retried / result.seconds),
    admitted: latency(result),
    maxInFlightEvents: maxInFlight,
    gatewayCpuCores: round(cpu),
    gatewayPeakRssMiB: round(peakRss, 0),
    rssFirstHalfMaxMiB: round(maxOf(rssSamples.slice(0, half)), 0),
    rssSecondHalfMaxMiB: round(maxOf(rssSamples.slice(half)), 0),
  });
}
process.exit(0);
