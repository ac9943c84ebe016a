/**
 * `weir demo` (the README's main job): bring up real Kafka and Redis, start a gateway, stream a
 * mixed sample of the three scenarios from several connections (with duplicates and invalid
 * events), and print what happened: results by code, throughput, and the records that landed
 * in each Kafka topic during the run.
 */
import { Kafka, logLevel } from "kafkajs";
import { startGateway } from "../../gateway/gateway.js";
import { IngestClient, ResultCode } from "../client/index.js";
import { mixedTraffic } from "../../load/generators/mixed.js";
import { stackUp } from "../stack/index.js";
import { SchemaRegistry } from "../schema/registry.js";

export type DemoOptions = { events: number; dataDir?: string; connections?: number };

async function topicTotals(brokers: string, topics: string[]): Promise<Map<string, number>> {
  const admin = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const totals = new Map<string, number>();
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
      totals.set(topic, offsets.reduce((sum, p) => sum + Number(p.high), 0));
    }
    return totals;
  } finally {
    await admin.disconnect();
  }
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const say = (line: string) => console.log(line);
  say("weir demo: starting Kafka and Redis (first run downloads the Kafka jars, a minute or two)…");
  const stack = await stackUp({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), out: () => {} });
  say(`  Kafka ${stack.kafkaBrokers}   Redis ${stack.redisUrl}`);

  const gateway = await startGateway({ kafkaBrokers: [stack.kafkaBrokers], redisUrl: stack.redisUrl, port: 0, logLevel: "warn", apiKeys: ["demo:demo-key"] });
  say(`  gateway ${gateway.url} (${gateway.config.gatewayId})`);
  const topics = [...SchemaRegistry.builtin().eventTypes().map((t) => t.topic), gateway.config.deadLetterTopic];
  const before = await topicTotals(stack.kafkaBrokers, topics);

  const planned = mixedTraffic({ count: opts.events, seed: Date.now() % 1_000_000 });
  const connections = opts.connections ?? 4;
  say(`streaming ${planned.length} events over ${connections} connections (≈5% duplicates, ≈5% invalid)…`);
  const counts = new Map<string, number>();
  const reasons = new Map<string, string>();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = await IngestClient.connect({ url: gateway.url, tenant: "demo", apiKey: "demo-key", clientId: `demo-${c}` });
      const mine = planned.filter((_, i) => i % connections === c).map((p) => p.env);
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
  await gateway.close();

  say(`\nresults (${seconds.toFixed(2)} s, ${Math.round(planned.length / seconds)} events/s end to end):`);
  for (const [code, n] of [...counts].sort()) say(`  ${code.padEnd(14)} ${n}`);
  say("\nexample reasons:");
  for (const [code, reason] of reasons) say(`  ${code}: ${reason.slice(0, 140)}`);
  say("\nrecords written to Kafka in this run:");
  for (const topic of topics) say(`  ${topic.padEnd(32)} ${(after.get(topic) ?? 0) - (before.get(topic) ?? 0)}`);
  const acked = (counts.get("ACK") ?? 0) + (counts.get("DUPLICATE") ?? 0);
  say(`\n${acked} acked (of which ${counts.get("DUPLICATE") ?? 0} duplicates not republished), ${planned.length - acked} refused into ${gateway.config.deadLetterTopic}.`);
  say("Kafka and Redis keep running: `npm run stack -- down` stops them.");
  return 0;
}
