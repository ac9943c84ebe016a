/**
 * Subscribing to what the processor makes of a tenant's events, with the fraud job running inside
 * the gateway (private stack: the job reads the card topic from the start): card transactions in
 * through /v1/ingest, fraud alerts out through /v1/subscribe ("alerts" and "results.fraud").
 *   - Two tenants use the same card ids: each subscriber gets its own tenant's alerts, exactly,
 *     in order per card, and nothing of the other (their states are separate, so are their alerts).
 *   - A subscriber killed mid-stream and reopened with its last resume token, and one whose
 *     connection the gateway drops (the client resumes by itself): nothing lost, nothing twice.
 *
 * Each card's input is deterministic: a purchase at home, a burst of three high-value purchases
 * from a new city (an alert), a purchase at home, a second burst from another new city (a second
 * alert), a last purchase at home. The purchases at home end each burst's match.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode, subscribe, type StreamDelivery } from "../../src/client/index.js";
import { CardTransactionSchema } from "../../src/events.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import type { Gateway } from "../../gateway/gateway.js";
import { WeirError } from "../../src/errors.js";
import type { Subscription } from "../../src/subscribe/subscription.js";
import type { AlertRecord } from "../../src/kafka-contract.js";
import type { FraudAlert } from "../../examples/jobs/fraud.js";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";

const run = `res-${Date.now().toString(36)}`;
const tenantA = `${run}-a`;
const tenantB = `${run}-b`;
const fraudRule = { minPurchases: 3, amountThresholdMinor: 100_000, withinMinutes: 10 };

let stack: TestStack;
let gateway: Gateway;

beforeAll(async () => {
  stack = await startTestStack();
  gateway = await gatewayFor(
    { kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl },
    {
      apiKeys: [`${tenantA}:secret`, `${tenantB}:secret`],
      processorInGateway: true,
      processorJobs: ["weir/examples/jobs/fraud"],
      processorGroupPrefix: `weir-test-${run}`,
      processorThreads: 2,
      jobOptions: { fraud: fraudRule },
    },
  );
}, 240_000);
afterAll(async () => {
  await gateway?.close();
  await stack?.close();
}, 60_000);

const subscribeUrl = () => gateway.url.replace("/v1/ingest", "/v1/subscribe");

const cities = [
  { country: "US", city: "Boston", latitude: 42.36, longitude: -71.06 },
  { country: "GB", city: "London", latitude: 51.51, longitude: -0.13 },
  { country: "DE", city: "Berlin", latitude: 52.52, longitude: 13.4 },
  { country: "JP", city: "Tokyo", latitude: 35.68, longitude: 139.69 },
  { country: "BR", city: "Sao Paulo", latitude: -23.55, longitude: -46.63 },
];

/**
 * One card's transactions for `tenant` (see the file comment) and the transaction ids of the
 * two bursts, in order. `variant` picks other cities, so two tenants' histories of one card differ.
 */
function cardHistory(tenant: string, card: string, baseMs: number, variant: number): { events: Envelope[]; bursts: string[][] } {
  const home = cities[variant % cities.length]!;
  const away1 = cities[(variant + 1) % cities.length]!;
  const away2 = cities[(variant + 2) % cities.length]!;
  const events: Envelope[] = [];
  const tx = (name: string, amountMinor: number, location: typeof home, atMs: number) => {
    const transactionId = `${tenant}-${card}-${name}`;
    events.push(
      envelopeOf(
        CardTransactionSchema,
        { transactionId, cardId: card, amountMinor: BigInt(amountMinor), currency: "USD", merchantId: `m-${name}`, location },
        { id: transactionId, eventTimeMs: atMs, partitionKey: card },
      ),
    );
    return transactionId;
  };
  const min = 60_000;
  tx("home-0", 5_000, home, baseMs);
  const burst1 = [0, 1, 2].map((n) => tx(`b1-${n}`, 200_000 + n, away1, baseMs + (1 + n) * min));
  tx("home-1", 5_000, home, baseMs + 20 * min);
  const burst2 = [0, 1, 2].map((n) => tx(`b2-${n}`, 300_000 + n, away2, baseMs + (30 + n) * min));
  tx("home-2", 5_000, home, baseMs + 60 * min);
  return { events, bursts: [burst1, burst2] };
}

/** Every card's history of one tenant, with the expected alerts per card (burst transaction ids, in order). */
function tenantHistory(tenant: string, cards: readonly string[], baseMs: number, variant: number) {
  const events: Envelope[] = [];
  const expected = new Map<string, string[][]>();
  for (const [i, card] of cards.entries()) {
    const h = cardHistory(tenant, card, baseMs + i * 1000, variant + i);
    events.push(...h.events);
    expected.set(card, h.bursts);
  }
  return { events, expected };
}

/** Sends in order, one batch at a time (a card's purchases are order-sensitive). */
async function send(tenant: string, events: readonly Envelope[]): Promise<void> {
  for (let i = 0; i < events.length; i += 200) {
    const results = await streamAll(gateway.url, { tenant, apiKey: "secret" }, events.slice(i, i + 200), { connections: 1, batch: 200 });
    expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
  }
}

/** A subscription that is live (Subscribed received), with its iterator. */
async function live(tenant: string, stream: string, from?: { resumeToken: string }) {
  let subscribed = 0;
  const sub = subscribe({
    url: subscribeUrl(),
    tenant,
    apiKey: "secret",
    stream,
    ...(from ? { from } : {}),
    maxReconnectDelayMs: 500,
    onSubscribed: () => subscribed++,
  });
  await waitFor(() => subscribed > 0, `${tenant} subscribed to ${stream}`);
  return { sub, iter: sub[Symbol.asyncIterator](), subscribed: () => subscribed };
}

/** Takes deliveries until `done` holds for what was taken. */
async function takeUntil(
  iter: AsyncIterator<StreamDelivery>,
  done: (got: StreamDelivery[]) => boolean,
  what: string,
  timeoutMs = 120_000,
): Promise<StreamDelivery[]> {
  const got: StreamDelivery[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(got)) {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      iter.next(),
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), Math.max(1, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    if (r === "timeout") throw new Error(`timed out waiting for ${what} (${got.length} so far)`);
    if (r.done) throw new Error(`the subscription ended while waiting for ${what} (${got.length} so far)`);
    got.push(r.value);
  }
  return got;
}

/** The transaction ids of an alert delivery ("alerts": an AlertRecord; "results.fraud": the FraudAlert itself). */
function burstOf(d: StreamDelivery): string[] {
  const v = d.json<AlertRecord | FraudAlert>();
  return "detail" in v ? (v.detail as FraudAlert).transactionIds.slice() : v.transactionIds.slice();
}

/** Per card, the bursts in delivery order. */
function byCard(got: readonly StreamDelivery[]): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const d of got) out.set(d.key, [...(out.get(d.key) ?? []), burstOf(d)]);
  return out;
}

const count = (expected: Map<string, string[][]>) => [...expected.values()].reduce((n, b) => n + b.length, 0);

test("each tenant's subscribers get exactly that tenant's fraud alerts, in order per card, though both tenants use the same card ids", async () => {
  const baseMs = Date.now() - 3 * 3600_000;
  // Cards 3..5 are used by both tenants.
  const a = tenantHistory(tenantA, ["card-1", "card-2", "card-3", "card-4", "card-5"], baseMs, 0);
  const b = tenantHistory(tenantB, ["card-3", "card-4", "card-5", "card-6", "card-7", "card-8"], baseMs, 2);
  const bSentinel = tenantHistory(tenantB, ["card-9"], baseMs, 1);

  const aAlerts = await live(tenantA, "alerts");
  const aResults = await live(tenantA, "results.fraud");
  const bAlerts = await live(tenantB, "alerts");

  // B first, all of it delivered to B; then A. Whatever of B's reached A's socket (it must not)
  // would arrive there before any of A's alerts, which were made later: one socket keeps order.
  await send(tenantB, b.events);
  const gotB = await takeUntil(bAlerts.iter, (got) => got.length >= count(b.expected), "B's alerts");
  await send(tenantA, a.events);
  const gotA = await takeUntil(aAlerts.iter, (got) => got.filter((d) => burstOf(d)[0]!.startsWith(tenantA)).length >= count(a.expected), "A's alerts");
  const gotAResults = await takeUntil(aResults.iter, (got) => got.filter((d) => burstOf(d)[0]!.startsWith(tenantA)).length >= count(a.expected), "A's results");
  // Likewise for B: a last alert of B's, made after A's were all out, ends what B's subscriber takes.
  await send(tenantB, bSentinel.events);
  gotB.push(...(await takeUntil(bAlerts.iter, (got) => got.some((d) => d.key === "card-9"), "B's last alert")));

  expect(byCard(gotA)).toEqual(a.expected);
  expect(byCard(gotAResults)).toEqual(a.expected);
  expect(byCard(gotB.filter((d) => d.key !== "card-9"))).toEqual(b.expected);
  for (const d of gotA) expect(d.json<AlertRecord>()).toMatchObject({ job: "fraud", kind: "fraud", key: `${tenantA}/${d.key}` });
  for (const d of [...gotA, ...gotAResults, ...gotB]) {
    expect(d.kind).toBe("alerts");
    expect(d.contentType).toBe("application/json");
    expect(d.resumeToken).not.toBe("");
  }
  for (const s of [aAlerts, aResults, bAlerts]) s.sub.close();
}, 300_000);

/** Card histories of tenant A in groups (sent one group at a time), with each group's expected alert ids. */
function groups(name: string, n: number, cardsPerGroup: number) {
  return Array.from({ length: n }, (_, g) => {
    const cards = Array.from({ length: cardsPerGroup }, (_, i) => `${name}-${g}-${i}`);
    const h = tenantHistory(tenantA, cards, Date.now() - 2 * 3600_000, g);
    const ids = [...h.expected].flatMap(([card, bursts]) => bursts.map((b) => `fraud:${tenantA}/${card}:${b[0]}:${b[2]}`));
    return { events: h.events, ids };
  });
}

const alertIds = (got: readonly StreamDelivery[]) => got.map((d) => d.json<AlertRecord>().alertId);

/** Every expected id exactly once, and nothing else. */
function expectExactlyOnce(got: readonly StreamDelivery[], expected: readonly string[]) {
  const counts = new Map<string, number>();
  for (const id of alertIds(got)) counts.set(id, (counts.get(id) ?? 0) + 1);
  expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
  expect([...counts.keys()].sort()).toEqual([...expected].sort());
}

test("killed mid-stream and reopened with its last resume token: nothing lost, nothing twice", async () => {
  const [g1, g2] = groups("kill", 2, 20); // 40 alerts each
  const first = await live(tenantA, "alerts");
  await send(tenantA, g1!.events);
  // Killed with deliveries still unread (received, buffered, never handed out: the token is
  // the last one handed out), then more alerts are made while nobody is subscribed.
  const part1 = await takeUntil(first.iter, (got) => got.length >= 25, "25 alerts");
  const token = first.sub.resumeToken!;
  first.sub.close();
  await send(tenantA, g2!.events);
  const second = await live(tenantA, "alerts", { resumeToken: token });
  const part2 = await takeUntil(second.iter, (got) => got.length >= g1!.ids.length + g2!.ids.length - part1.length, "the rest after resuming");
  second.sub.close();
  expectExactlyOnce([...part1, ...part2], [...g1!.ids, ...g2!.ids]);
}, 300_000);

test("dropped by the gateway mid-stream (1011), the client resumes by itself: nothing lost, nothing twice", async () => {
  const gs = groups("drop", 3, 15); // 30 alerts each
  const auto = await live(tenantA, "alerts");
  // Its gateway side: the only subscriber of tenant A's alerts now (the earlier tests' have gone).
  const sides = () => [...gateway.subscriptions.subscribers].filter((s) => s.tenant === tenantA && s.spec?.name === "alerts" && !s.closed);
  await waitFor(() => sides().length === 1, "one subscriber of A's alerts");
  /**
   * Drops the connection (1011) the moment the gateway has new records for it, before they are
   * sent: they are in Kafka and not at the client, so only resuming from its position brings them.
   */
  const dropOnNextRecords = (side: Subscription) => {
    let dropped = false;
    const offer = side.offer.bind(side);
    side.offer = (partition, records, readAtMs) => {
      if (!dropped && records.length > 0) {
        dropped = true;
        side.fail(new WeirError("WEIR_ERR_SUBSCRIPTION_FAILED", "test: connection dropped"));
        return [];
      }
      return offer(partition, records, readAtMs);
    };
    return () => dropped;
  };

  // Group 0: only half handed out; the rest stays in the client's buffer (received, not taken),
  // so resuming from what was handed out would repeat them.
  await send(tenantA, gs[0]!.events);
  const got = await takeUntil(auto.iter, (more) => more.length >= gs[0]!.ids.length / 2, "half of group 0");
  let expected = [...gs[0]!.ids];
  for (const g of gs.slice(1)) {
    await waitFor(() => sides().length === 1, "the client to be subscribed");
    const dropped = dropOnNextRecords(sides()[0]!);
    const before = auto.subscribed();
    await send(tenantA, g.events);
    await waitFor(dropped, "the drop");
    // Nothing more is taken until the client is back (from where? what it received, not what was taken).
    await waitFor(() => auto.subscribed() > before, "the client to resubscribe");
    expected = [...expected, ...g.ids];
    got.push(...(await takeUntil(auto.iter, (more) => got.length + more.length >= expected.length, "the alerts after the drop")));
  }
  expect(auto.sub.reconnects).toBe(gs.length - 1);
  expect(auto.subscribed()).toBe(gs.length);
  auto.sub.close();
  expectExactlyOnce(got, expected);
}, 300_000);
