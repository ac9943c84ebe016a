/**
 * The processor killed mid-stream (SIGKILL, no cleanup) and restarted: opening its tasks'
 * producers again aborts the transaction it left open, its tasks are restored from the changelog, and the results read read_committed still hold every final window exactly once with
 * the counts sent. On a private stack: its event times would make the shared topic's other
 * processor tests see late records. Part of `npm run chaos` (about a minute): the short chaos
 * form in `npm test` kills a processor mid-stream too and checks every final window.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Kafka, logLevel } from "kafkajs";
import { createRng } from "../../src/generators/rng.js";
import { ResultCode } from "../../src/client/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { changelogTopic } from "../../src/kafka-contract.js";
import { gatewayFor, streamAll, waitFor } from "../integration/support.js";
import {
  pastLastMinute,
  accessLogMinute,
  expectFinalWindowsExactlyOnce,
  startProcessorChild,
  type ProcessorChild,
  type WindowCounts,
} from "../integration/processor-child.js";

const run = `pcr-${Date.now().toString(36)}`;
const tenant = `processor-crash-${run}`;
const hosts = Array.from({ length: 8 }, (_, i) => `${run}-h${i}`);
const minutes = 4;
const perMinute = 400;
const t0 = Math.ceil(Date.now() / 60_000) * 60_000 + 20 * 60_000;

let stack: TestStack;
let gateway: Gateway;
let child: ProcessorChild | undefined;
/** The log of every instance so far. */
let log = "";

function startChild(): ProcessorChild {
  if (child) log += child.log;
  return startProcessorChild({ brokers: stack.kafkaBrokers, job: "error-rate", threads: 2, groupPrefix: `weir-test-${run}`, instanceId: run });
}
const fullLog = () => log + (child?.log ?? "");

beforeAll(async () => {
  stack = await startTestStack();
  gateway = await gatewayFor({ kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl }, { apiKeys: [`${tenant}:secret`] });
}, 180_000);
afterAll(async () => {
  await child?.stop();
  await gateway?.close();
  await stack?.close();
}, 60_000);

test("SIGKILLed mid-stream and restarted: every final window exactly once, exact counts", async () => {
  const rng = createRng(7);
  const random = () => rng.next();
  const expected = new Map<string, WindowCounts>();
  const auth = { tenant, apiKey: "secret" };
  let n = 0;
  child = startChild();
  await child.waitForLog(/assigned partitions/, { timeoutMs: 120_000 });
  for (let m = 0; m < minutes; m++) {
    const events = accessLogMinute({ random, hosts, start: t0 + m * 60_000, perMinute, id: () => `${run}-${n++}`, expected });
    const admin = m === 2 ? new Kafka({ brokers: [stack.kafkaBrokers], logLevel: logLevel.NOTHING }).admin() : undefined;
    const changelogSize = async () =>
      (await admin!.fetchTopicOffsets(changelogTopic(`weir-test-${run}-error-rate`))).reduce((sum, o) => sum + Number(o.high), 0);
    let before = 0;
    if (admin) {
      await admin.connect();
      before = await changelogSize();
    }
    const sending = streamAll(gateway.url, auth, events, { connections: 2, batch: 25 });
    if (admin) {
      // Kill while this minute is streaming in, once the processor has committed some of it: the
      // restart must restore that state and go on from the committed offsets.
      await waitFor(async () => (await changelogSize()) > before, "state committed during minute 2", 60_000);
      await admin.disconnect();
      await child.kill("SIGKILL");
      child = startChild();
    }
    const results = await sending;
    expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  }
  const flushed = await streamAll(
    gateway.url,
    auth,
    pastLastMinute(hosts, t0 + minutes * 60_000, () => `${run}-${n++}`),
    { connections: 1 },
  );
  expect(flushed.every((r) => r.code === ResultCode.ACK)).toBe(true);

  try {
    await expectFinalWindowsExactlyOnce(stack.kafkaBrokers, "error-rate", expected, { timeoutMs: 150_000, context: fullLog });
    // The restarted instance restored its tasks from a non-empty changelog.
    expect(fullLog()).toMatch(/restored partitions [0-9,]+ \([1-9][0-9]* entries\)/);
  } finally {
    process.stderr.write(
      fullLog()
        .split("\n")
        .filter((l) => l.includes("[processor"))
        .join("\n") + "\n",
    );
  }
}, 400_000);
