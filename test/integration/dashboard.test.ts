/**
 * The dashboard (/dashboard, gateway/dashboard/) in headless Chromium against a gateway running
 * the three processor jobs on a private stack: the page subscribes over /v1/subscribe (its frames
 * through protobuf-es, bundled into app.js by the gateway) and polls /v1/stats; the test streams
 * access logs, card transactions and market data through the gateway and reads what the page
 * shows (its tables and data-* attributes, not pixels):
 *   - 5xx per minute equal to what was sent, minute by minute, summed over hosts;
 *   - the fraud alerts of two planted bursts, newest first;
 *   - the account pushed over its gross-exposure limit highlighted, a small one not;
 *   - a positive acked rate while events flow, and the page's three subscribers.
 * Then a reload shows the same from Kafka (the page subscribes from an hour back).
 * A screenshot lands in test-artifacts/dashboard.png.
 *
 * Private stack: the risk job reads quotes as a global table, so other tests' quotes would move
 * its marks. Needs Chromium (.ci/setup installs it; WEIR_CHROMIUM overrides /usr/bin/chromium).
 */
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { Kafka, logLevel } from "kafkajs";
import type { Gateway } from "../../gateway/gateway.js";
import { createRng } from "../../src/generators/rng.js";
import { cardFeed } from "../../src/generators/card.js";
import { marketFeed, referenceEvents } from "../../src/generators/market.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/client/index.js";
import { WeirError } from "../../src/errors.js";
import { CardTransactionSchema, HttpAccessLogSchema, QuoteSchema, Side, TradeSchema } from "../../src/events.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { ALERTS_TOPIC, repartitionTopic } from "../../src/kafka-contract.js";
import { exampleJob } from "../unit-fixtures/example-jobs.js";
import { waitForCaughtUp } from "../../src/processor/lag.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { gatewayFor, readTopics, streamAll, waitFor } from "./support.js";

const run = `dash-${Date.now().toString(36)}`;
const tenant = `dashboard-${run}`;
const auth = { tenant, apiKey: "secret" };
const MINUTE = 60_000;
const CHROMIUM = process.env.WEIR_CHROMIUM ?? "/usr/bin/chromium";
const registry = SchemaRegistry.builtin();
const topicOf = (typeName: string) => registry.eventType(typeName)!.topic;

let stack: TestStack;
let gateway: Gateway;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  const launching = chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  stack = await startTestStack();
  gateway = await gatewayFor(
    { kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl },
    {
      apiKeys: [`${tenant}:secret`],
      // /v1/stats then needs credentials: the page sends its tenant's (Basic tenant:key).
      metricsToken: "dashboard-test-metrics-token",
      processorInGateway: true,
      processorThreads: 1,
      processorGroupPrefix: `weir-test-${run}`,
      processorIdleAdvanceMs: 2000,
      jobOptions: {
        "risk-limits": { limits: { default: { maxGrossExposure: 400_000 } }, marketDataTenants: [tenant] },
        fraud: { minPurchases: 3, amountThresholdMinor: 100_000, withinMinutes: 10 },
      },
    },
  );
  browser = await launching;
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (err) => pageErrors.push(String(err)));
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  await stack?.close();
}, 60_000);

const origin = () => `http://127.0.0.1:${gateway.port}`;

/** Sends in order, one batch at a time (card transactions and market data are order-sensitive). */
async function send(events: readonly Envelope[]): Promise<void> {
  for (let i = 0; i < events.length; i += 250) {
    const results = await streamAll(gateway.url, auth, events.slice(i, i + 250), { connections: 1, batch: 250 });
    expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
  }
}

/**
 * The little of the DOM the page functions below use: they run in Chromium, and this project
 * compiles without the "dom" lib.
 */
type PageElement = {
  readonly dataset: Record<string, string | undefined>;
  readonly classList: { contains(name: string): boolean };
  readonly textContent: string | null;
};
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): { readonly length: number; [Symbol.iterator](): Iterator<PageElement> };
};

type Minutes = Record<string, { errors: number; requests: number }>;

/** Waits until `fn` holds in the page; on timeout, fails with what the page shows instead. */
async function waitForPage(what: string, fn: (want: Minutes) => boolean, want: Minutes = {}, timeoutMs = 150_000): Promise<void> {
  try {
    await page.waitForFunction(fn, want, { timeout: timeoutMs, polling: 250 });
  } catch (err) {
    const shown = await page
      .locator("body")
      .innerText()
      .catch(() => "(page unreadable)");
    throw new Error(`timed out waiting for the page to show ${what}: ${(err as Error).message.split("\n")[0]}\n--- page ---\n${shown}`, { cause: err });
  }
}

/** What the page shows, from its tables' data attributes. */
function view() {
  return page.evaluate(() => ({
    minutes: Object.fromEntries(
      [...document.querySelectorAll("#error-table tbody tr[data-window-start]")].map((r) => [
        r.dataset.windowStart!,
        { errors: Number(r.dataset.errors), requests: Number(r.dataset.requests) },
      ]),
    ),
    bars: Object.fromEntries(
      [...document.querySelectorAll("#error-chart rect[data-window-start]")].map((r) => [r.dataset.windowStart!, Number(r.dataset.errors)]),
    ),
    alerts: [...document.querySelectorAll("#alert-feed li[data-key]")].map((li) => ({
      key: li.dataset.key!,
      kind: li.dataset.kind!,
      text: li.textContent ?? "",
    })),
    accounts: Object.fromEntries(
      [...document.querySelectorAll("#risk-table tbody tr[data-account]")].map((r) => [
        r.dataset.account!,
        { breached: r.classList.contains("breached"), limits: r.dataset.breached ?? "", gross: Number(r.dataset.gross), text: r.textContent ?? "" },
      ]),
    ),
    emptyMinutes: document.querySelectorAll("#error-table tbody .empty").length,
    p99: Number(document.querySelector("#latency-p99")?.dataset.ms),
    subscribers: document.querySelector("#subscribers")?.dataset.count,
  }));
}

async function openDashboard(): Promise<void> {
  // Credentials in the fragment: handed to the page, never sent to a server, stripped at once.
  await page.goto(`${origin()}/dashboard#tenant=${encodeURIComponent(tenant)}&key=secret`);
  expect(page.url()).not.toContain("secret");
  await waitForPage("three live subscriptions", () => document.querySelectorAll('#streams li[data-state="live"]').length === 3, {}, 60_000);
}

// ---- what the test sends ----------------------------------------------------------------------

const now = Date.now();

/** Access logs: three closed minutes ~40 minutes ago on three hosts, 5xx counted per minute. */
function accessLogs(): { events: Envelope[]; expected: Map<number, { errors: number; requests: number }> } {
  const rng = createRng(11);
  const t0 = Math.floor(now / MINUTE) * MINUTE - 40 * MINUTE;
  const hosts = ["web-1", "web-2", "api-1"];
  const events: Envelope[] = [];
  const expected = new Map<number, { errors: number; requests: number }>();
  for (let m = 0; m < 3; m++) {
    const start = t0 + m * MINUTE;
    const counts = { errors: 0, requests: 0 };
    for (let i = 0; i < 90; i++) {
      const host = hosts[i % hosts.length]!;
      // A different 5xx share each minute: 10%, 25%, 40%.
      const status = rng.chance(0.1 + 0.15 * m) ? rng.pick([500, 502, 503]) : rng.pick([200, 200, 201, 404]);
      counts.requests++;
      if (status >= 500) counts.errors++;
      events.push(envelopeOf(HttpAccessLogSchema, { host, method: "GET", path: "/", status }, { eventTimeMs: start + 500 + i * 600, partitionKey: host }));
    }
    expected.set(start, counts);
  }
  // One later event per host moves each host's partition watermark past the third minute's end.
  for (const host of hosts)
    events.push(
      envelopeOf(HttpAccessLogSchema, { host, method: "GET", path: "/", status: 200 }, { eventTimeMs: t0 + 3 * MINUTE + 10_000, partitionKey: host }),
    );
  return { events, expected };
}

const cardBase = now - 45 * MINUTE;

/** A planted fraud burst: two purchases at home, three big ones from a city new for the card, then home again. */
function fraudBurst(cardId: string, startMs: number): Envelope[] {
  const boston = { country: "US", city: "Boston", latitude: 42.36, longitude: -71.06 };
  const tokyo = { country: "JP", city: "Tokyo", latitude: 35.68, longitude: 139.69 };
  const tx = (n: number, amountMinor: number, location: typeof boston, at: number) =>
    envelopeOf(
      CardTransactionSchema,
      { transactionId: `${cardId}-tx-${n}`, cardId, amountMinor: BigInt(amountMinor), currency: "USD", merchantId: `m-${n}`, location },
      { eventTimeMs: at, partitionKey: cardId },
    );
  return [
    tx(0, 4_500, boston, startMs),
    tx(1, 2_300, boston, startMs + 10_000),
    ...[0, 1, 2].map((n) => tx(2 + n, 250_000 + n * 1000, tokyo, startMs + MINUTE + n * MINUTE)),
    // A purchase at home well after the burst ends it and moves the card's partition on.
    tx(5, 1_200, boston, startMs + 20 * MINUTE),
  ];
}

const eventTimeMs = (e: Envelope) => Number(e.eventTime!.seconds) * 1000 + Math.floor(e.eventTime!.nanos / 1e6);

/** Everyday purchases of 20 cards, and two planted bursts, in event-time order. */
function cardTransactions(): Envelope[] {
  const rng = createRng(23);
  const events: Envelope[] = [];
  events.push(...cardFeed(rng, 200, { baseTimeMs: cardBase, cards: 20, fraudRate: 0 }));
  events.push(...fraudBurst("card-planted-a", cardBase + MINUTE), ...fraudBurst("card-planted-b", cardBase + 5 * MINUTE));
  return events.sort((a, b) => eventTimeMs(a) - eventTimeMs(b));
}

/** Reference data and quotes (the risk job's global tables), then trades: one account far over its limit, one small. */
function market(): { globals: Envelope[]; trades: Envelope[] } {
  const rng = createRng(7);
  const base = now - 30 * MINUTE;
  const feed = marketFeed(rng, base + 1000, 5);
  const globals: Envelope[] = [...referenceEvents(base)];
  const trades: Envelope[] = [];
  for (let i = 0; i < 300; i++) {
    const e = feed.next(i);
    (e.type === "weir.events.v1.Trade" ? trades : globals).push(e);
  }
  const after = base + 1000 + 300 * 5 + 1000;
  globals.push(
    envelopeOf(QuoteSchema, { symbol: "AAPL", bid: 189.9, ask: 190.1, venue: "XNAS" }, { eventTimeMs: after, partitionKey: "AAPL" }),
    envelopeOf(QuoteSchema, { symbol: "JPM", bid: 199.9, ask: 200.1, venue: "XNAS" }, { eventTimeMs: after, partitionKey: "JPM" }),
  );
  trades.push(
    envelopeOf(
      TradeSchema,
      { tradeId: `${run}-whale`, accountId: "acct-whale", symbol: "AAPL", side: Side.BUY, quantity: 5000, price: 190 },
      { eventTimeMs: after + 1000, partitionKey: "acct-whale" },
    ),
    envelopeOf(
      TradeSchema,
      { tradeId: `${run}-minnow`, accountId: "acct-minnow", symbol: "JPM", side: Side.BUY, quantity: 10, price: 200 },
      { eventTimeMs: after + 1000, partitionKey: "acct-minnow" },
    ),
  );
  return { globals, trades };
}

const kafkaAdmin = () => new Kafka({ brokers: [stack.kafkaBrokers], logLevel: logLevel.NOTHING, clientId: "weir-test-dashboard" }).admin();
const processorOf = (job: string) => gateway.processors!.processors.find((p) => p.job === job)!;

/**
 * Waits until the job has committed every record of the topic (and so its outputs): its repartition
 * step has consumed the topic, and its tasks the repartition topic (the example jobs key their input).
 */
async function waitUntilConsumed(job: string, typeName: string): Promise<void> {
  const admin = kafkaAdmin();
  await admin.connect();
  try {
    const group = processorOf(job).consumerGroup;
    expect(await waitForCaughtUp(admin, `${group}.repartition`, topicOf(typeName), 120_000), `${job} to repartition ${typeName}`).toBe(true);
    expect(await waitForCaughtUp(admin, group, repartitionTopic(group), 120_000), `${job} to consume ${typeName}`).toBe(true);
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the risk job has applied every record of its global tables (quotes before trades). */
async function waitForGlobalTables(): Promise<void> {
  const topics = [...(await exampleJob("risk-limits")).runtime.tableTopics];
  const admin = kafkaAdmin();
  await admin.connect();
  const ends = new Map<string, number>();
  try {
    for (const t of topics) for (const o of await admin.fetchTopicOffsets(t)) if (o.high !== "0") ends.set(`${t}/${o.partition}`, Number(o.high) - 1);
  } finally {
    await admin.disconnect();
  }
  const risk = processorOf("risk-limits");
  await waitFor(() => [...ends].every(([s, end]) => (risk.globalProgress().get(s) ?? -1) >= end), "the risk job to read the global tables", 120_000);
}

// ---- the test -----------------------------------------------------------------------------------

test("the gateway serves the page and its assets", async () => {
  for (const [path, type] of [
    ["/dashboard", "text/html"],
    ["/dashboard/", "text/html"],
    ["/dashboard/app.js", "text/javascript"],
    ["/dashboard/style.css", "text/css"],
  ] as const) {
    const res = await fetch(`${origin()}${path}`);
    expect(res.status, path).toBe(200);
    expect(res.headers.get("content-type"), path).toContain(type);
    expect((await res.text()).length, path).toBeGreaterThan(100);
  }
  expect((await fetch(`${origin()}/dashboard/nothing.js`)).status).toBe(404);
});

test("the dashboard shows 5xx per minute, fraud alerts, risk breaches and gateway throughput as they happen", async () => {
  await openDashboard();
  // Nothing sent yet: empty panels, and the page's own three subscriptions counted.
  expect((await view()).emptyMinutes).toBe(1);
  await waitForPage("3 subscribers", () => document.querySelector("#subscribers")?.dataset.count === "3", {}, 30_000);

  // The acked rate is a 1-second rate: watch for it while the events flow.
  const ackRateSeen = waitForPage("a positive acked rate", () => Number(document.querySelector("#ack-rate")?.dataset.ackRate) > 0, {}, 240_000).then(
    () => true,
    (err: Error) => err,
  );
  const logs = accessLogs();
  const { globals, trades } = market();
  await send(logs.events);
  await send(cardTransactions());
  await send(globals);
  await waitForGlobalTables();
  await send(trades);
  expect(await ackRateSeen).toBe(true);

  // 5xx per minute: each closed minute's row shows exactly what was sent, and so does its bar.
  const expected: Minutes = Object.fromEntries([...logs.expected].map(([start, c]) => [String(start), c]));
  const minutesShown = (want: Minutes) =>
    Object.entries(want).every(([start, c]) => {
      const row = document.querySelector(`#error-table tr[data-window-start="${start}"]`);
      return row?.dataset.errors === String(c.errors) && row.dataset.requests === String(c.requests);
    });
  await waitForPage("the 5xx counts of the three minutes", minutesShown, expected);
  let shown = await view();
  expect(shown.minutes).toEqual(expected); // only the closed minutes, nothing else
  expect(Object.values(expected).every((c) => c.errors > 0)).toBe(true);
  expect(shown.bars).toEqual(Object.fromEntries(Object.entries(expected).map(([start, c]) => [start, c.errors])));

  // Fraud: both planted bursts, newest first.
  await waitForPage("both planted fraud alerts", () =>
    ["card-planted-a", "card-planted-b"].every((k) => document.querySelector(`#alert-feed li[data-key="${k}"]`) !== null),
  );
  // Risk: the whale's row highlighted, the minnow's valued and plain.
  await waitForPage("the whale's breach", () => document.querySelector('#risk-table tr[data-account="acct-whale"]')?.classList.contains("breached") === true);
  await waitForPage("both accounts' exposure", () =>
    ["acct-whale", "acct-minnow"].every((a) => Number(document.querySelector(`#risk-table tr[data-account="${a}"]`)?.dataset.gross) > 0),
  );

  shown = await view();
  const planted = shown.alerts.filter((a) => a.key.startsWith("card-planted-"));
  expect(planted.map((a) => a.key)).toEqual(["card-planted-b", "card-planted-a"]);
  expect(shown.alerts.every((a) => a.kind === "fraud")).toBe(true);
  expect(planted[1]!.text).toContain("Tokyo");
  expect(planted[1]!.text).not.toContain(`${tenant}/`); // ids shown without the tenant prefix
  const whale = shown.accounts["acct-whale"]!;
  expect(whale.limits.split(" ")).toContain("maxGrossExposure");
  expect(whale.text).toContain("maxGrossExposure");
  expect(whale.gross).toBeGreaterThan(400_000);
  const minnow = shown.accounts["acct-minnow"]!;
  expect(minnow).toMatchObject({ breached: false, limits: "" });
  expect(minnow.gross).toBeGreaterThan(1500);
  expect(minnow.gross).toBeLessThan(2500);
  // Batch latency is shown once batches went through.
  expect(shown.p99).toBeGreaterThan(0);

  // The processors' figures from /v1/stats.
  await waitForPage("every job's records and outputs", () =>
    ["error-rate", "fraud", "risk-limits"].every((job) => {
      const row = document.querySelector(`#processors tr[data-job="${job}"]`);
      return Number(row?.dataset.records) > 0 && Number(row?.dataset.outputs) > 0;
    }),
  );

  mkdirSync("test-artifacts", { recursive: true });
  await page.screenshot({ path: "test-artifacts/dashboard.png", fullPage: true });

  // A reload rebuilds the same picture from Kafka (the page subscribes from an hour back).
  await page.reload();
  await waitForPage("three live subscriptions after a reload", () => document.querySelectorAll('#streams li[data-state="live"]').length === 3, {}, 60_000);
  await waitForPage("the same 5xx counts after a reload", minutesShown, expected, 60_000);
  await waitForPage(
    "the planted alerts and the whale's breach after a reload",
    () =>
      document.querySelectorAll('#alert-feed li[data-key^="card-planted-"]').length === 2 &&
      document.querySelector('#risk-table tr[data-account="acct-whale"]')?.classList.contains("breached") === true,
    {},
    60_000,
  );
  expect((await view()).minutes).toEqual(expected);

  // Every alert of the tenant in Kafka reached the page once: the catch-up from an hour back.
  await waitUntilConsumed("fraud", "weir.events.v1.CardTransaction");
  await waitUntilConsumed("risk-limits", "weir.events.v1.Trade");
  const alertsInKafka = async () => (await readTopics(stack.kafkaBrokers, [ALERTS_TOPIC], tenant)).length;
  const alertsReceived = () => page.evaluate(() => Number(document.querySelector('#streams li[data-stream="alerts"]')?.dataset.deliveries));
  const alertCount = await alertsInKafka();
  await waitFor(async () => (await alertsReceived()) >= alertCount, `the page to receive the ${alertCount} alerts in Kafka`, 60_000);
  expect(await alertsReceived()).toBe(alertCount);

  // The gateway drops every subscription (as when reading a stream fails): the page reconnects,
  // resumes from its tokens, and what comes next shows up (a burst after every earlier purchase:
  // the fraud job drops purchases behind its watermark).
  await waitFor(() => gateway.subscriptions.subscribers.size === 3, "the reloaded page's three subscriptions alone", 30_000);
  const before = new Set([...gateway.subscriptions.subscribers].map((sub) => sub.sessionId));
  for (const sub of [...gateway.subscriptions.subscribers]) sub.fail(new WeirError("WEIR_ERR_SUBSCRIPTION_FAILED", "dropped by the test"));
  await waitFor(() => [...gateway.subscriptions.subscribers].filter((sub) => !before.has(sub.sessionId)).length === 3, "the page to subscribe again", 60_000);
  await waitForPage("three live subscriptions after the drop", () => document.querySelectorAll('#streams li[data-state="live"]').length === 3, {}, 60_000);
  await send(fraudBurst("card-planted-c", cardBase + 26 * MINUTE));
  await waitForPage("the alert sent after the drop", () => document.querySelector('#alert-feed li[data-key="card-planted-c"]') !== null);
  expect(await alertsReceived()).toBe(alertCount + 1); // resumed: nothing again, nothing missed
  expect(await alertsInKafka()).toBe(alertCount + 1);
  expect((await view()).alerts.filter((a) => a.key.startsWith("card-planted-")).map((a) => a.key)).toEqual([
    "card-planted-c",
    "card-planted-b",
    "card-planted-a",
  ]);

  expect(pageErrors).toEqual([]);
}, 360_000);
