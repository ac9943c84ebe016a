/**
 * Alerts across a crash: the fraud job and its webhook sink in a `weir processor` child, SIGKILLed
 * while card transactions stream in, then restarted. The fraud results (read_committed) are
 * exactly what the engine makes of the input topic, and the webhook has every alert; an alert the
 * killed sink had POSTed but not yet committed is sent again with the same Idempotency-Key, so a
 * receiver honouring the key acts on each alert once. On a private stack.
 *
 * The processor keeps its tasks' state on disk (WEIR_STATE_DIR, decision 0026): the restarted one
 * finds the killed one's local copies, written up to its last step that committed, and replays the
 * changelog from there. (The memory state across a SIGKILL: processor-rebalance.test.ts.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { Kafka, logLevel } from "kafkajs";
import { createRng } from "../../src/generators/rng.js";
import { cardFeed } from "../../src/generators/card.js";
import { ResultCode } from "../../src/client/index.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";
import { waitForCaughtUp } from "../../src/processor/lag.js";
import { changelogTopic, repartitionTopic } from "../../src/kafka-contract.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { startWebhookInbox, type WebhookInbox } from "../../src/sinks/webhook-inbox.js";
import { gatewayFor, readTopics, streamAll, waitFor } from "./support.js";
import { alertsOf, byPartition, partitionsOf, replay, resultsOf, waitForIdleSources } from "./replay.js";
import { startProcessorChild, type ProcessorChild } from "./processor-child.js";

const run = `pca-${Date.now().toString(36)}`;
const tenant = `processor-crash-alerts-${run}`;
const auth = { tenant, apiKey: "secret" };
const source = SchemaRegistry.builtin().eventType("weir.events.v1.CardTransaction")!.topic;
/** The job's tasks' input: its repartition topic. */
const input = () => repartitionTopic(child!.group);

let stack: TestStack;
let gateway: Gateway;
let webhook: WebhookInbox;
let child: ProcessorChild | undefined;
let log = "";
const stateDir = mkdtempSync(join(tmpdir(), "weir-crash-state-"));

function startChild(): ProcessorChild {
  if (child) log += child.log;
  return startProcessorChild({
    brokers: stack.kafkaBrokers,
    job: "fraud",
    threads: 2,
    groupPrefix: `weir-test-${run}`,
    instanceId: run,
    webhookUrl: webhook.url,
    // Source partitions and tasks without records close their patterns after 2 s (the job says 60 s).
    env: { WEIR_PROCESSOR_IDLE_ADVANCE_MS: "2000", WEIR_PROCESSOR_SOURCE_IDLE_MS: "2000", WEIR_STATE_DIR: stateDir },
  });
}

beforeAll(async () => {
  stack = await startTestStack();
  webhook = await startWebhookInbox();
  gateway = await gatewayFor({ kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl }, { apiKeys: [`${tenant}:secret`] });
}, 180_000);
afterAll(async () => {
  await child?.stop();
  await gateway?.close();
  await webhook?.close();
  await stack?.close();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

test("SIGKILLed mid-stream: fraud results exactly the engine's, every alert at the webhook, re-sends only with the same key", async () => {
  const rng = createRng(11);
  const baseTimeMs = Date.now() - 3600_000;
  const events: Envelope[] = [];
  // Five minutes of transactions in event-time order; a burst completes two minutes after it starts.
  events.push(...cardFeed(rng, 6000, { baseTimeMs, cards: 80, fraudRate: 0.03 }));
  child = startChild();
  await child.waitForLog(/assigned partitions/, { timeoutMs: 120_000 });

  const admin = new Kafka({ brokers: [stack.kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const changelogSize = async () => (await admin.fetchTopicOffsets(changelogTopic(child!.group))).reduce((sum, o) => sum + Number(o.high), 0);
    // In order, one batch at a time (CEP reads each card in order); the kill comes two thirds of
    // the way in, once the processor has committed some state and the sink has delivered an alert.
    for (let i = 0; i < events.length; i += 100) {
      const results = await streamAll(gateway.url, auth, events.slice(i, i + 100), { connections: 1, batch: 100 });
      expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
      if (i === 4000) {
        await waitFor(async () => (await changelogSize()) > 0 && webhook.requests.length > 0, "committed state and a delivered alert", 120_000).catch(
          (err: Error) => {
            throw new Error(`${err.message}\n${child?.log}`);
          },
        );
        await child.kill("SIGKILL");
        child = startChild();
      }
    }
    // The job keys by card: its tasks read its repartition topic, final once every source is idle.
    expect(await waitForCaughtUp(admin, `${child.group}.repartition`, source, 180_000), `the repartition step to consume everything\n${log}${child.log}`).toBe(
      true,
    );
    await waitForIdleSources(stack.kafkaBrokers, input(), source);
    expect(await waitForCaughtUp(admin, child.group, input(), 180_000), "the restarted processor to consume everything").toBe(true);
  } finally {
    await admin.disconnect();
  }

  // The restarted processor took its tasks' local copies (written by the killed one) and replayed the tail.
  expect(child.log).toMatch(/restored partitions [0-9,]+ \(on disk: partitions [0-9,]+ from their local checkpoints, [0-9]+ changelog records replayed/);

  const fraud = (await exampleJob("fraud")).runtime;
  const records = byPartition(await readTopics(stack.kafkaBrokers, [input()]), (t) => fraud.isStream(t));
  const expected = replay(fraud, await partitionsOf(stack.kafkaBrokers, input()), [(p) => records.get(p) ?? []]);
  // Copies of a re-keyed record (kafkajs's transactional producer has written a batch twice within
  // one transaction): the tasks and the replay apply each source position once.
  const positions = [...records.values()].flat().flatMap((r) => (r.source !== undefined ? [`${r.source}@${r.offset}`] : []));
  process.stderr.write(`repartitioned records ${positions.length}, copies skipped by position ${positions.length - new Set(positions).size}\n`);
  const alerts = alertsOf(fraud, expected);
  expect(alerts.length).toBeGreaterThan(5);
  expect(await resultsOf(stack.kafkaBrokers, "fraud")).toEqual(expected);

  await waitFor(() => alerts.every((a) => webhook.byKey.has(a.alertId)), "every alert at the webhook", 120_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${log}${child?.log}`);
  });
  expect([...webhook.byKey.keys()].sort()).toEqual(alerts.map((a) => a.alertId).sort());
  // A re-send is the one delivery the killed sink had in flight per partition, with the same key.
  const resent = webhook.requests.length - webhook.byKey.size;
  expect(resent).toBeLessThanOrEqual(4);
  process.stderr.write(`alerts ${alerts.length}, webhook requests ${webhook.requests.length} (${resent} re-sent with the same key)\n`);
}, 400_000);
