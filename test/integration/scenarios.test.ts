/**
 * Reference scenarios 2 and 3 end to end, with the processor jobs running inside the gateway (the
 * default deployment): events through the gateway into Kafka, the fraud and risk-limits jobs on
 * worker threads, results and alerts written in Kafka transactions, alerts POSTed to a webhook.
 *
 * The expected results are the engine's own, computed here without threads or Kafka: each input
 * partition's records, read back in offset order, replayed through one in-process task. So the
 * test checks that the runtime (threads, transactions, global tables) adds and loses nothing,
 * while the planted fraud bursts and limit breaches check that there is something to see.
 *
 * On a private stack: the risk job reads the quote and reference topics in full, and other
 * tests' quotes would move its marks.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Kafka, logLevel } from "kafkajs";
import { createRng } from "../../src/generators/rng.js";
import { cardFeed } from "../../src/generators/card.js";
import { marketFeed, referenceEvents } from "../../src/generators/market.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import { fromBinary } from "@bufbuild/protobuf";
import { CardTransactionSchema, QuoteSchema } from "../../src/events.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { ALERTS_TOPIC, repartitionTopic, type AlertRecord } from "../../src/kafka-contract.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";
import type { Processor } from "../../src/processor/processor.js";
import { waitForCaughtUp } from "../../src/processor/lag.js";
import type { RawRecord } from "../../src/processor/thread-messages.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { gatewayFor, readTopics, streamAll, waitFor } from "./support.js";
import { alertsOf, byPartition, partitionsOf, replay, resultsOf, waitForIdleSources } from "./replay.js";
import { startWebhookInbox, type WebhookInbox } from "../../src/sinks/webhook-inbox.js";

const run = `scn-${Date.now().toString(36)}`;
const tenant = `scenarios-${run}`;
const auth = { tenant, apiKey: "secret" };
const jobOptions = {
  fraud: { minPurchases: 3, amountThresholdMinor: 100_000, withinMinutes: 10 },
  "risk-limits": { limits: { default: { maxGrossExposure: 400_000, maxLoss: 20_000 } }, marketDataTenants: [tenant] },
};
const registry = SchemaRegistry.builtin();
const topicOf = (typeName: string) => registry.eventType(typeName)!.topic;

let stack: TestStack;
let gateway: Gateway;
let webhook: WebhookInbox;

beforeAll(async () => {
  stack = await startTestStack();
  webhook = await startWebhookInbox();
  gateway = await gatewayFor(
    { kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl },
    {
      apiKeys: [`${tenant}:secret`],
      processorInGateway: true,
      processorJobs: ["weir/examples/jobs/fraud", "weir/examples/jobs/risk-limits"],
      processorGroupPrefix: `weir-test-${run}`,
      processorThreads: 2,
      // Source partitions and tasks without records close their windows and patterns after 2 s.
      processorIdleAdvanceMs: 2000,
      jobOptions,
      webhookUrl: webhook.url,
    },
  );
}, 180_000);
afterAll(async () => {
  await gateway?.close();
  await webhook?.close();
  await stack?.close();
}, 60_000);

const kafka = () => new Kafka({ brokers: [stack.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-scenarios" });
const processorOf = (job: string): Processor => gateway.processors!.processors.find((p) => p.job === job)!;

/** Sends in order, one batch at a time: market data and card transactions are order-sensitive. */
async function send(events: readonly Envelope[]): Promise<void> {
  for (let i = 0; i < events.length; i += 250) {
    const results = await streamAll(gateway.url, auth, events.slice(i, i + 250), { connections: 1, batch: 250 });
    expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
  }
}

/** Waits until a consumer group has committed every record of a topic. */
async function waitUntilConsumed(group: string, topic: string): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    expect(await waitForCaughtUp(admin, group, topic, 180_000), `${group} to consume ${topic}`).toBe(true);
  } finally {
    await admin.disconnect();
  }
}

test("scenario 2: card fraud — bursts alert, results exactly the engine's, each alert POSTed once", async () => {
  const rng = createRng(42);
  const baseTimeMs = Date.now() - 3600_000;
  // In event-time order, as a card network sends them; the planted bursts' purchases are the ids ending in -1 and -2 (and their -0).
  const events = cardFeed(rng, 1500, { baseTimeMs, cards: 60, fraudRate: 0.02 });
  const txIds = events.map((e) => fromBinary(CardTransactionSchema, e.payload).transactionId);
  const bursts = new Set(txIds.filter((id) => id.endsWith("-1")).map((id) => id.slice(0, -2)));
  const planted = new Set(txIds.filter((id) => bursts.has(id.slice(0, -2))));
  await send(events);
  // The job's tasks read its repartition topic (the job keys by card id): once the repartition
  // step has consumed the source, every source partition has gone idle (its last marker), and the
  // tasks have consumed the repartition topic, the results must be exactly the engine's answer
  // for that input.
  const fraud = (await exampleJob("fraud", jobOptions.fraud)).runtime;
  const group = processorOf("fraud").consumerGroup;
  const source = topicOf("weir.events.v1.CardTransaction");
  const input = repartitionTopic(group);
  await waitUntilConsumed(`${group}.repartition`, source);
  await waitForIdleSources(stack.kafkaBrokers, input, source);
  await waitUntilConsumed(group, input);

  const records = byPartition(await readTopics(stack.kafkaBrokers, [input]), (t) => fraud.isStream(t));
  const expected = replay(fraud, await partitionsOf(stack.kafkaBrokers, input), [(p) => records.get(p) ?? []]);
  // Most bursts alert (a burst in a city the card already used, by an earlier burst, does not),
  // and only bursts do.
  const alerts = expected.filter((o) => o.stream === "alerts").map((o) => o.value as { transactionIds: string[] });
  expect(alerts.length).toBeGreaterThanOrEqual(planted.size / 3 / 2);
  expect(alerts.flatMap((a) => a.transactionIds).filter((id) => !planted.has(id))).toEqual([]);
  expect(await resultsOf(stack.kafkaBrokers, "fraud")).toEqual(expected);

  const expectedAlerts = alertsOf(fraud, expected);
  await waitFor(() => expectedAlerts.every((a) => webhook.byKey.has(a.alertId)), "every fraud alert at the webhook", 120_000);
  for (const a of expectedAlerts) expect(webhook.byKey.get(a.alertId)!.length, a.alertId).toBe(1);
  const alertTopic = (await readTopics(stack.kafkaBrokers, [ALERTS_TOPIC])).filter((r) => r.headers["weir.job"] === "fraud");
  expect(alertTopic.map((r) => (JSON.parse(r.value.toString()) as AlertRecord).alertId).sort()).toEqual(expectedAlerts.map((a) => a.alertId).sort());
}, 300_000);

test("scenario 3: risk — reference data and quotes as global tables, breaches exactly the engine's, delivered to the webhook", async () => {
  const rng = createRng(7);
  const baseTimeMs = Date.now() - 1800_000;
  const feed = marketFeed(rng, baseTimeMs + 1000, 6);
  const quotes: Envelope[] = [];
  const trades: Envelope[] = [];
  for (let i = 0; trades.length < 400; i++) {
    const e = feed.next(i);
    (e.type === "weir.events.v1.Trade" ? trades : quotes).push(e);
  }
  const spec = jobSpec("risk-limits");
  const isGlobal = (t: string) => spec.inputs[t]?.broadcast === true;
  const globalTopics = [...new Set(Object.keys(spec.inputs).filter(isGlobal).map(topicOf))];
  const tradeTopic = topicOf("weir.events.v1.Trade");

  // Phase 1: reference data and quotes, all applied by the job before any trade.
  await send([...referenceEvents(baseTimeMs), ...quotes]);
  const ends = async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      const out = new Map<string, number>();
      for (const t of globalTopics) for (const o of await admin.fetchTopicOffsets(t)) if (o.high !== "0") out.set(`${t}/${o.partition}`, Number(o.high) - 1);
      return out;
    } finally {
      await admin.disconnect();
    }
  };
  const phase1Ends = await ends();
  await waitFor(
    () => [...phase1Ends].every(([s, end]) => (processorOf("risk-limits").globalProgress().get(s) ?? -1) >= end),
    "the risk job to read the global tables",
    120_000,
  );

  // Phase 2: trades. Phase 3: a crash of one symbol's price (one quote partition, so one order).
  await send(trades);
  await waitUntilConsumed("risk-limits", tradeTopic);
  const lastTs = baseTimeMs + 600_000;
  await send(
    [0.9, 0.7, 0.5, 0.3].map((f, i) =>
      envelopeOf(
        QuoteSchema,
        { symbol: "MSFT", bid: 410 * f - 0.1, ask: 410 * f + 0.1, venue: "XNAS" },
        { eventTimeMs: lastTs + i * 1000, partitionKey: "MSFT" },
      ),
    ),
  );
  const allEnds = await ends();
  await waitFor(
    () => [...allEnds].every(([s, end]) => (processorOf("risk-limits").globalProgress().get(s) ?? -1) >= end),
    "the risk job to apply the crash",
    120_000,
  );

  const globals = await readTopics(stack.kafkaBrokers, globalTopics);
  const phase1 = globals.filter((r) => Number(r.offset) <= (phase1Ends.get(`${r.topic}/${r.partition}`) ?? -1));
  const phase3 = globals.filter((r) => Number(r.offset) > (phase1Ends.get(`${r.topic}/${r.partition}`) ?? -1));
  const flat = (m: Map<number, RawRecord[]>) => [...m.values()].flat();
  const g1 = flat(byPartition(phase1, isGlobal, true));
  const g3 = flat(byPartition(phase3, isGlobal, true));
  const tradeRecords = byPartition(await readTopics(stack.kafkaBrokers, [tradeTopic]), (t) => spec.inputs[t] !== undefined && !isGlobal(t));
  const expected = replay("risk-limits", jobOptions, await partitionsOf(stack.kafkaBrokers, tradeTopic), [
    () => g1,
    (p) => tradeRecords.get(p) ?? [],
    () => g3,
  ]);
  const breaches = expected.filter((o) => o.stream === "breaches");
  expect(breaches.some((o) => (o.value as { limit: string }).limit === "maxGrossExposure")).toBe(true);
  expect(breaches.some((o) => (o.value as { limit: string }).limit === "maxLoss")).toBe(true);
  expect(expected.filter((o) => o.stream === "rejected")).toEqual([]);

  await waitFor(async () => (await resultsOf(stack.kafkaBrokers, "risk-limits")).length >= expected.length, "the risk results", 120_000);
  const actual = await resultsOf(stack.kafkaBrokers, "risk-limits");
  expect(actual).toEqual(expected);

  const expectedAlerts = alertsOf("risk-limits", expected);
  await waitFor(() => expectedAlerts.every((a) => webhook.byKey.has(a.alertId)), "every risk alert at the webhook", 120_000);
  for (const a of expectedAlerts) expect(webhook.byKey.get(a.alertId)!.length, a.alertId).toBe(1);
}, 300_000);
