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
import { CardTransactionSchema, QuoteSchema, Side, TradeSchema } from "../../src/events.js";
import type { MtmUpdate, RiskSnapshot } from "../../src/engine/index.js";
import { books, finalFigures, markAsOf, markHistory, relErr } from "../unit-fixtures/risk-oracle.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { ALERTS_TOPIC, repartitionTopic, splitTenantKey, type AlertRecord } from "../../src/kafka-contract.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";
import type { Processor } from "../../src/processor/processor.js";
import { waitForCaughtUp } from "../../src/processor/lag.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { gatewayFor, readTopics, streamAll, waitFor } from "./support.js";
import { alertsOf, byPartition, partitionsOf, replay, resultsOf, waitForIdleSources } from "./replay.js";
import { startWebhookInbox, type WebhookInbox } from "../../src/sinks/webhook-inbox.js";

const run = `scn-${Date.now().toString(36)}`;
const tenant = `scenarios-${run}`;
const auth = { tenant, apiKey: "secret" };
const intruder = { tenant: `intruder-${run}`, apiKey: "secret" };
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
      apiKeys: [`${tenant}:secret`, `${intruder.tenant}:secret`],
      processorInGateway: true,
      processorJobs: ["weir/examples/jobs/fraud", "weir/examples/jobs/risk-limits"],
      processorGroupPrefix: `weir-test-${run}`,
      processorThreads: 2,
      // Source partitions and tasks without records close their windows and patterns after 2 s.
      processorIdleAdvanceMs: 2000,
      processorSourceIdleMs: 2000,
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

const eventTimeOf = (e: Envelope) => Number(e.eventTime!.seconds) * 1000 + Math.floor(e.eventTime!.nanos / 1e6);

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

test("scenario 3: risk — every snapshot priced as of its trade, final positions and P&L exact under disorder, no tenant moves another's marks, breaches at the webhook", async () => {
  const rng = createRng(7);
  const baseTimeMs = Date.now() - 1800_000;
  const feed = marketFeed(rng, baseTimeMs + 1000, 6);
  const generated = Array.from({ length: 2400 }, (_, i) => feed.next(i));
  // Sent out of event-time order: each event delayed by up to 600 ms (the job tolerates 1 s).
  const delayed = generated.map((e) => ({ e, at: eventTimeOf(e) + rng.next() * 600 })).sort((a, b) => a.at - b.at);
  const group = processorOf("risk-limits").consumerGroup;
  const tradeTopic = topicOf("weir.events.v1.Trade");

  // Reference data first (latest wins, no event time join), then the disordered stream; in the
  // middle, another tenant "publishes" a quote for a symbol the accounts hold.
  await send(referenceEvents(baseTimeMs));
  const half = Math.floor(delayed.length / 2);
  await send(delayed.slice(0, half).map((d) => d.e));
  const intruderQuote = envelopeOf(
    QuoteSchema,
    { symbol: "AAPL", bid: 1, ask: 1.02, venue: "XNAS" },
    { eventTimeMs: eventTimeOf(delayed[half]!.e), partitionKey: "AAPL" },
  );
  const refused = await streamAll(gateway.url, intruder, [intruderQuote], { connections: 1 });
  expect(refused.map((r) => r.code)).toEqual([ResultCode.ACK]); // the gateway takes it; the job refuses it
  await send(delayed.slice(half).map((d) => d.e));
  await waitUntilConsumed(`${group}.repartition`, tradeTopic);
  await waitForIdleSources(stack.kafkaBrokers, repartitionTopic(group), tradeTopic);
  await waitUntilConsumed(group, repartitionTopic(group));

  // The independent calculation, from what was sent (this tenant's market data and trades only).
  const quotes = generated.filter((e) => e.type === QuoteSchema.typeName).map((e) => ({ ...fromBinary(QuoteSchema, e.payload), timestampMs: eventTimeOf(e) }));
  const trades = generated
    .filter((e) => e.type === TradeSchema.typeName)
    .map((e) => {
      const t = fromBinary(TradeSchema, e.payload);
      return {
        accountId: `${tenant}/${t.accountId}`,
        symbol: t.symbol,
        side: t.side === Side.BUY ? ("BUY" as const) : ("SELL" as const),
        quantity: t.quantity,
        price: t.price,
        timestampMs: eventTimeOf(e),
      };
    });
  const history = markHistory(quotes);
  const expectedBooks = books(trades);

  type Out = { stream: string; value: unknown };
  let outputs: Out[] = [];
  const last = new Map<string, MtmUpdate>();
  // The idle policy closes the input: every position's final mark-to-market comes once the tasks see no more trades.
  await waitFor(
    async () => {
      outputs = (await resultsOf(stack.kafkaBrokers, "risk-limits")).filter((o) => splitTenantKey(o.key)?.tenant === tenant);
      last.clear();
      for (const o of outputs) if (o.stream === "mtm") last.set(`${(o.value as MtmUpdate).account}|${(o.value as MtmUpdate).symbol}`, o.value as MtmUpdate);
      return [...expectedBooks].every(
        ([key, b]) => last.get(key)?.quantity === b.qty && last.get(key)?.mark === markAsOf(history, key.split("|")[1]!, Number.POSITIVE_INFINITY)?.mid,
      );
    },
    "every position's final mark-to-market",
    120_000,
  );
  const on = (stream: string) => outputs.filter((o) => o.stream === stream).map((o) => o.value);

  // (a) One snapshot per trade, priced with this tenant's mark as of the trade's event time.
  const snapshots = on("risk") as RiskSnapshot[];
  expect(snapshots.length).toBe(trades.length);
  for (const snap of snapshots) {
    const symbols = [...snap.positions.map((p) => p.symbol), ...snap.unvalued.map((u) => u.symbol)].sort();
    const expected = symbols.flatMap((symbol) => {
      const m = markAsOf(history, symbol, snap.atMs);
      return m === undefined ? [] : [{ symbol, mark: m.mid, validFromMs: m.t }];
    });
    expect(snap.marks, `snapshot of ${snap.tradeId} at ${snap.atMs}`).toEqual(expected);
  }
  // (b) The final position and P&L per (account, symbol): the replay's, to 1e-9.
  expect([...last.keys()].sort()).toEqual([...expectedBooks.keys()].sort());
  for (const [key, b] of expectedBooks) {
    const symbol = key.split("|")[1]!;
    const want = finalFigures(symbol, b, markAsOf(history, symbol, Number.POSITIVE_INFINITY)!.mid);
    const got = last.get(key)!;
    for (const field of ["marketValue", "realisedPnl", "unrealisedPnl"] as const) {
      expect(relErr(got[field], want[field]), `${key} ${field}: ${got[field]} vs ${want[field]}`).toBeLessThanOrEqual(1e-9);
    }
  }
  // (c) The intruder's quote was refused and moved nothing (the marks above are this tenant's feed's alone).
  const rejected = (await resultsOf(stack.kafkaBrokers, "risk-limits")).filter(
    (o) => o.stream === "rejected" && splitTenantKey(o.key)?.tenant === intruder.tenant,
  );
  expect(rejected.map((o) => (o.value as { reason: string }).reason)).toEqual([`tenant ${intruder.tenant} may not write the shared table quotes`]);

  // Breaches: limits were crossed, and each alert reached the webhook exactly once.
  const risk = (await exampleJob("risk-limits", jobOptions["risk-limits"])).runtime;
  const alerts = alertsOf(
    risk,
    outputs.map((o, i) => ({ partition: 0, key: String(i), ...o })),
  ).filter((a) => a.kind === "breach" || a.kind === "cleared");
  expect(alerts.some((a) => a.kind === "breach")).toBe(true);
  await waitFor(() => alerts.every((a) => webhook.byKey.has(a.alertId)), "every risk alert at the webhook", 120_000);
  for (const a of alerts) expect(webhook.byKey.get(a.alertId)!.length, a.alertId).toBe(1);
}, 300_000);
