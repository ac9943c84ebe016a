/**
 * `weir demo` (the README's main job): bring up real Kafka and Redis, start a gateway, stream a
 * mixed sample of the three scenarios from several connections (with duplicates and invalid
 * events), and print what happened: results by code, throughput, the records that landed in
 * each Kafka topic during the run, and what the processor jobs running inside the gateway made of
 * them (5xx counts per host and minute, fraud alerts, risk breaches), with the alerts POSTed to a
 * local webhook; then a device streaming through the edge relay while its uplink is down.
 */
import { Kafka, logLevel } from "kafkajs";
import { Redis } from "ioredis";
import { startGateway } from "../gateway.js";
import { IngestClient, ResultCode } from "../../src/client/index.js";
import { mixedTraffic } from "../../src/generators/mixed.js";
import { stackUp } from "../../src/stack/index.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { waitForCaughtUp } from "../../src/processor/lag.js";
import { repartitionTopic } from "../../src/kafka-contract.js";
import { startWebhookInbox, type WebhookInbox } from "../../src/sinks/webhook-inbox.js";
import { edgeDemo } from "./demo-edge.js";

export type DemoOptions = { events: number; dataDir?: string; connections?: number };

async function topicTotals(brokers: string, topics: string[]): Promise<Map<string, number>> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const totals = new Map<string, number>();
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
      totals.set(
        topic,
        offsets.reduce((sum, p) => sum + Number(p.high), 0),
      );
    }
    return totals;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Event time where this run starts. The jobs keep their state (and watermarks) between demo runs,
 * so each run continues after the previous one's last event time instead of sending events the
 * jobs would rightly call late; it starts 20 minutes back (the generators spread a run over about
 * 50 ms of event time per event) unless an earlier run already went further.
 */
async function demoClock(redisUrl: string, events: number): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    const key = "weir:demo:next-event-time";
    const previous = Number((await redis.get(key)) ?? 0);
    // Never beyond the gateway's allowed clock skew: past that, start again from now (some late data).
    const start = previous > Date.now() - 20 * 60_000 && previous < Date.now() + 20 * 60_000 ? previous : Date.now() - 20 * 60_000;
    await redis.set(key, String(start + events * 50 + 5 * 60_000));
    return start;
  } finally {
    redis.disconnect();
  }
}

function laneOf(key: string, lanes: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return h % lanes;
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const say = (line: string) => console.log(line);
  say("weir demo: starting Kafka and Redis (first run downloads the Kafka jars, a minute or two)…");
  const stack = await stackUp({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), out: () => {} });
  say(`  Kafka ${stack.kafkaBrokers}   Redis ${stack.redisUrl}`);

  const inbox = await startWebhookInbox();
  const gateway = await startGateway({
    kafkaBrokers: [stack.kafkaBrokers],
    redisUrl: stack.redisUrl,
    port: 0,
    logLevel: "warn",
    apiKeys: ["demo:demo-key"],
    webhookUrl: inbox.url,
    // When the sample traffic ends, idle partitions close their last windows after 2 s (the jobs say 30 s).
    processorIdleAdvanceMs: 2000,
  });
  const jobs = gateway.processors?.processors.map((p) => p.job) ?? [];
  say(`  gateway ${gateway.url} (${gateway.config.gatewayId}), jobs ${jobs.join(", ")} (examples/jobs/) inside it, alerts to ${inbox.url}`);
  const topics = [
    ...SchemaRegistry.builtin()
      .eventTypes()
      .map((t) => t.topic),
    gateway.config.deadLetterTopic,
  ];
  const before = await topicTotals(stack.kafkaBrokers, topics);

  const baseTimeMs = await demoClock(stack.redisUrl, opts.events);
  const planned = mixedTraffic({ count: opts.events, seed: Date.now() % 1_000_000, baseTimeMs });
  const connections = opts.connections ?? 4;
  say(`streaming ${planned.length} events over ${connections} connections (≈5% duplicates, ≈5% invalid)…`);
  const counts = new Map<string, number>();
  const reasons = new Map<string, string>();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = await IngestClient.connect({ url: gateway.url, tenant: "demo", apiKey: "demo-key", clientId: `demo-${c}` });
      // Each key on one connection, sent in order: the jobs see one card's transactions and one
      // symbol's quotes in the order they happened, as a real feed would send them.
      const mine = planned.filter((p) => laneOf(p.env.partitionKey || p.env.id, connections) === c).map((p) => p.env);
      for (let i = 0; i < mine.length; i += 500) {
        const results = await client.publishUntilFinal(mine.slice(i, i + 500));
        for (const r of results) {
          const name = ResultCode[r.code];
          counts.set(name, (counts.get(name) ?? 0) + 1);
          if (r.errorCode && !reasons.has(r.errorCode)) reasons.set(r.errorCode, r.reason);
        }
      }
      await client.close();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const after = await topicTotals(stack.kafkaBrokers, topics);
  const processed = await processingReport(gateway, stack.kafkaBrokers, inbox);
  await gateway.close();
  await inbox.close();

  say(`\nresults (${seconds.toFixed(2)} s, ${Math.round(planned.length / seconds)} events/s end to end):`);
  for (const [code, n] of [...counts].sort()) say(`  ${code.padEnd(14)} ${n}`);
  say("\nexample reasons:");
  for (const [code, reason] of reasons) say(`  ${code}: ${reason.slice(0, 140)}`);
  say("\nrecords written to Kafka in this run:");
  for (const topic of topics) say(`  ${topic.padEnd(32)} ${(after.get(topic) ?? 0) - (before.get(topic) ?? 0)}`);
  const acked = (counts.get("ACK") ?? 0) + (counts.get("DUPLICATE") ?? 0);
  say(
    `\n${acked} acked (of which ${counts.get("DUPLICATE") ?? 0} duplicates not republished), ${planned.length - acked} refused into ${gateway.config.deadLetterTopic}.`,
  );
  for (const line of processed) say(line);
  await edgeDemo(stack, say).catch((err: unknown) => say(`\nedge relay part skipped: ${err instanceof Error ? err.message : String(err)}`));
  say("Kafka and Redis keep running: `npm run stack -- down` stops them.");
  return 0;
}

/** Waits (briefly) for the jobs to consume what was sent, then describes what they produced. */
async function processingReport(gateway: Awaited<ReturnType<typeof startGateway>>, brokers: string, inbox: WebhookInbox): Promise<string[]> {
  const running = gateway.processors;
  if (!running) return ["\n(processor jobs not running in the gateway: WEIR_PROCESSOR_IN_GATEWAY=false)"];
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const registry = SchemaRegistry.builtin();
  const inputOf: Record<string, string> = { "error-rate": "HttpAccessLog", fraud: "CardTransaction", "risk-limits": "Trade" };
  // Each job keys its input itself: its repartition step first, then its tasks; once the input
  // has been idle for the idle time, the last windows close and those tasks commit once more.
  const caughtUp = async () => {
    for (const p of running.processors) {
      const type = inputOf[p.job];
      if (type === undefined) continue;
      await waitForCaughtUp(admin, `${p.consumerGroup}.repartition`, registry.eventType(`weir.events.v1.${type}`)!.topic, 60_000);
      await waitForCaughtUp(admin, p.consumerGroup, repartitionTopic(p.consumerGroup), 60_000);
    }
  };
  try {
    await caughtUp();
    await new Promise((r) => setTimeout(r, 3000));
    await caughtUp();
  } finally {
    await admin.disconnect();
  }
  const lines = ["\nprocessed by the jobs in this run (results in weir.results.<job>, exactly once):"];
  for (const p of running.processors) {
    const { records, outputs, latest } = p.stats();
    lines.push(
      `  ${p.job.padEnd(12)} ${records} input records -> ${
        Object.entries(outputs)
          .map(([stream, n]) => `${n} ${stream}`)
          .join(", ") || "no output yet"
      }`,
    );
    for (const [stream, value] of Object.entries(latest)) lines.push(`      latest ${stream}: ${JSON.stringify(value).slice(0, 150)}`);
  }
  if (running.webhook) {
    // Delivery trails the jobs' transactions by a moment.
    const raised = running.processors.reduce((n, p) => n + (p.stats().outputs.alerts ?? 0) + (p.stats().outputs.breaches ?? 0), 0);
    const deadline = Date.now() + 20_000;
    while (running.webhook.stats().delivered < raised && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    lines.push(`\nwebhook ${inbox.url}: ${inbox.byKey.size} distinct alerts received (${inbox.requests.length} requests), latest:`);
    const last = inbox.requests.at(-1)?.body as { text?: string } | undefined;
    if (last?.text) lines.push(`  ${last.text.slice(0, 200)}`);
  }
  return lines;
}
