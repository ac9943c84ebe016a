/**
 * The fraud example job (examples/jobs/fraud.ts) end to end in the JobTestDriver: N or more
 * purchases above an amount, from a location new for the card, within M minutes → one alert per
 * burst, also delivered as an alert (weir.alerts, the webhook).
 *
 * The job is keyed by card, so its records go through the repartition step. Its pattern reads each
 * card's purchases in event-time order (a per-key watermark, no disorder tolerated) and expires
 * partial bursts as the job's event time — the lowest over the source partitions — passes them.
 * Every task waits to hear from all 6 partitions of weir.events.card-transaction, so each case
 * first lets them all go idle (60 s of wall clock with no purchases, the job's idle time); a
 * partition that then gets purchases counts again. Most cases publish every purchase under one
 * producer key — one source partition, the only active one, whose purchases must then come in
 * event-time order — so each purchase is matched as it arrives and event time follows it; the last
 * cases show disorder across sources.
 */
import { describe, expect, it } from "vitest";
import fraud, { type FraudAlert, type KnownLocations, type Purchase } from "weir/examples/jobs/fraud";
import type { CepKeyState } from "weir/engine";
import { JobTestDriver, type DriverOutput } from "weir/testing";

const T0 = Date.UTC(2026, 0, 15, 8, 0, 0);
const MIN = 60_000;
const at = (minute: number) => T0 + minute * MIN;
const TENANT = "acme";
/** The job's idle time: a source partition without purchases for this long (wall clock) stops holding event time back. */
const IDLE_MS = 60_000;
/** The card processor's feed: the producer key every purchase is published under in the single-source cases. */
const FEED = "acquirer-1";
const HOME = { country: "US", city: "Seattle" };
const AWAY = { country: "NG", city: "Lagos" };
type Place = { country: string; city: string };

function job(options?: Record<string, unknown>) {
  const driver = JobTestDriver.create(fraud, options ? { options } : {});
  // As a while after the job starts with nothing on the topic: the partitions these cases leave
  // empty no longer hold event time back; the ones they publish on are active from their first purchase.
  driver.advanceWallClock(IDLE_MS);
  const buy = (cardId: string, transactionId: string, amountMinor: number, where: Place, atMin: number, producerKey = FEED) => {
    const tx = { cardId, transactionId, amountMinor: BigInt(amountMinor), currency: "USD", merchantId: `m-${transactionId}`, location: where };
    driver.pipe("transactions", tx, { tenant: TENANT, key: producerKey, timestampMs: at(atMin) });
  };
  /** Cards' everyday history, interleaved in event time: a small, a large and a small purchase each. */
  const history = (...cards: Array<[cardId: string, where: Place]>) => {
    for (const [n, [amount, minute]] of [
      [2_500, 0],
      [150_000, 5],
      [4_000, 30],
    ].entries())
      for (const [cardId, where] of cards) buy(cardId, `${cardId}-h${n + 1}`, amount!, where, minute!);
  };
  const alerts = () => driver.readAll("alerts") as Array<DriverOutput & { value: FraudAlert }>;
  /** The pattern's state of a card, on the task of its key. */
  const cardState = (cardId: string) => driver.store<CepKeyState<Purchase, KnownLocations>>("pattern", driver.partitionOf(cardId)).get(`${TENANT}/${cardId}`);
  return { driver, buy, history, alerts, cardState };
}

describe("fraud example job", () => {
  it("three high-value purchases in a new city within 5 minutes: exactly one alert, delivered to the webhook", () => {
    const { driver, buy, history, alerts } = job();
    history(["c1", HOME]);
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t2", 200_000, AWAY, 62);
    expect(alerts()).toEqual([]);
    buy("c1", "t3", 250_000, AWAY, 64);
    expect(alerts()).toEqual([
      {
        stream: "alerts",
        key: `${TENANT}/c1`,
        tenant: TENANT,
        partition: driver.partitionOf("c1"),
        timestampMs: at(64),
        value: {
          alertId: `${TENANT}/c1:t1:t3`,
          cardId: `${TENANT}/c1`,
          location: AWAY,
          transactionIds: ["t1", "t2", "t3"],
          totalAmountMinor: 600_000,
          firstAtMs: at(60),
          lastAtMs: at(64),
        },
      },
    ]);
    expect(driver.alerts()).toEqual([
      {
        alertId: `fraud:${TENANT}/c1:t1:t3`,
        job: "fraud",
        kind: "fraud",
        key: `${TENANT}/c1`,
        atMs: at(64),
        summary: `Possible card fraud: card ${TENANT}/c1, 3 purchases totalling 6000.00 from Lagos, NG, new for this card`,
        detail: alerts()[0]!.value,
      },
    ]);
  });

  it("small purchases in between do not break the burst", () => {
    const { buy, history, alerts } = job();
    history(["c1", HOME]);
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "s1", 1_000, AWAY, 61);
    buy("c1", "s2", 900, HOME, 61.5);
    buy("c1", "t2", 200_000, AWAY, 62);
    buy("c1", "t3", 250_000, AWAY, 64);
    expect(alerts().map((o) => o.value.transactionIds)).toEqual([["t1", "t2", "t3"]]);
  });

  it("the same burst spread over 20 minutes: no alert, and the partial burst expires", () => {
    const { buy, history, alerts, cardState } = job();
    history(["c1", HOME]);
    buy("c1", "t1", 150_000, AWAY, 60);
    expect(cardState("c1")!.runs).toHaveLength(1);
    buy("c1", "t2", 200_000, AWAY, 70);
    buy("c1", "t3", 250_000, AWAY, 80);
    expect(alerts()).toEqual([]);
    expect(cardState("c1")!.runs).toEqual([]);
  });

  it("four purchases in the burst: still one alert (the first three)", () => {
    const { driver, buy, history, alerts } = job();
    history(["c1", HOME]);
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t2", 200_000, AWAY, 61);
    buy("c1", "t3", 250_000, AWAY, 62);
    buy("c1", "t4", 300_000, AWAY, 63);
    driver.advanceWatermark(at(120));
    expect(alerts().map((o) => o.value.alertId)).toEqual([`${TENANT}/c1:t1:t3`]);
    expect(driver.alerts()).toHaveLength(1);
  });

  it("a second card interleaved: no cross-talk", () => {
    const { buy, history, alerts } = job();
    history(["c1", HOME], ["c2", AWAY]); // Lagos is home for c2
    buy("c1", "a1", 150_000, AWAY, 60);
    buy("c2", "b1", 150_000, AWAY, 60);
    buy("c2", "b2", 160_000, HOME, 60.5); // Seattle is new for c2
    buy("c1", "a2", 200_000, AWAY, 61);
    buy("c2", "b3", 170_000, AWAY, 61);
    buy("c2", "b4", 180_000, HOME, 61.5);
    buy("c1", "a3", 250_000, AWAY, 62);
    buy("c2", "b5", 190_000, HOME, 62.5);
    expect(alerts().map((o) => [o.key, o.value.alertId, o.value.location, o.value.totalAmountMinor])).toEqual([
      [`${TENANT}/c1`, `${TENANT}/c1:a1:a3`, AWAY, 600_000],
      [`${TENANT}/c2`, `${TENANT}/c2:b2:b5`, HOME, 530_000],
    ]);
  });

  it("keeps tenants apart: the same card id of two tenants is two cards", () => {
    const { driver, alerts } = job({ minPurchases: 2 });
    const tx = (tenant: string, id: string, minute: number) =>
      driver.pipe("transactions", { cardId: "c1", transactionId: id, amountMinor: 150_000n, location: AWAY }, { tenant, key: FEED, timestampMs: at(minute) });
    tx("acme", "a1", 0);
    tx("globex", "g1", 1);
    expect(alerts()).toEqual([]);
    tx("acme", "a2", 2);
    expect(alerts().map((o) => [o.tenant, o.value.alertId])).toEqual([["acme", "acme/c1:a1:a2"]]);
  });

  it("high-value purchases in the home city: no alert", () => {
    const { buy, history, alerts } = job();
    history(["c1", HOME]);
    buy("c1", "t1", 150_000, HOME, 60);
    buy("c1", "t2", 200_000, HOME, 61);
    buy("c1", "t3", 250_000, HOME, 62);
    expect(alerts()).toEqual([]);
  });

  it("a location is new only until the card has used it (at the burst's first purchase)", () => {
    const { buy, history, alerts } = job();
    history(["c1", HOME]);
    buy("c1", "s1", 1_000, AWAY, 50); // Lagos is known from now on
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t2", 200_000, AWAY, 61);
    buy("c1", "t3", 250_000, AWAY, 62);
    expect(alerts()).toEqual([]);
  });

  it("amounts must be above the threshold; N, threshold and M are options", () => {
    const a = job();
    a.buy("c1", "t1", 100_000, AWAY, 0);
    a.buy("c1", "t2", 100_001, AWAY, 1);
    a.buy("c1", "t3", 100_001, AWAY, 2);
    expect(a.alerts()).toEqual([]);
    const b = job({ minPurchases: 2, amountThresholdMinor: 500, withinMinutes: 1 });
    b.buy("c1", "t1", 501, AWAY, 0);
    b.buy("c1", "t2", 501, AWAY, 0.99);
    expect(b.alerts().map((o) => o.value.alertId)).toEqual([`${TENANT}/c1:t1:t2`]);
    const c = job({ minPurchases: 2, amountThresholdMinor: 500, withinMinutes: 1 });
    c.buy("c1", "t1", 501, AWAY, 0);
    c.buy("c1", "t2", 501, AWAY, 1);
    expect(c.alerts()).toEqual([]);
  });

  it("known locations are bounded to the last K; a purchase without a location is at '/'", () => {
    const { driver, buy, cardState } = job({ knownLocationsPerCard: 2 });
    buy("c1", "t1", 1, { country: "US", city: "A" }, 0);
    buy("c1", "t2", 1, { country: "US", city: "B" }, 1);
    buy("c1", "t3", 1, { country: "US", city: "A" }, 2);
    buy("c1", "t4", 1, { country: "US", city: "C" }, 3);
    expect(cardState("c1")!.context).toEqual({ recent: ["US/A", "US/C"] });
    driver.pipe("transactions", { cardId: "c1", transactionId: "t5" }, { tenant: TENANT, key: FEED, timestampMs: at(4) });
    expect(cardState("c1")!.context).toEqual({ recent: ["US/C", "/"] });
  });

  it("maps the generated CardTransaction: bigint amounts, the location's country and city", () => {
    const { driver, alerts } = job({ minPurchases: 1 });
    driver.pipe(
      "transactions",
      {
        transactionId: "tx-9",
        cardId: "card-1",
        amountMinor: 123_456n,
        currency: "USD",
        merchantId: "m-1",
        location: { country: "NG", city: "Lagos", latitude: 6.5, longitude: 3.4 },
      },
      { tenant: TENANT, key: "evt-9", timestampMs: 42 },
    );
    driver.advanceWatermark(42);
    expect(alerts().map((o) => [o.partition, o.value])).toEqual([
      [
        driver.partitionOf("card-1"),
        {
          alertId: `${TENANT}/card-1:tx-9:tx-9`,
          cardId: `${TENANT}/card-1`,
          location: { country: "NG", city: "Lagos" },
          transactionIds: ["tx-9"],
          totalAmountMinor: 123_456,
          firstAtMs: 42,
          lastAtMs: 42,
        },
      ],
    ]);
  });

  it("restores from the changelog at any point and alerts exactly as without a restart", () => {
    const script = (restartAt: number) => {
      const { driver, buy, history, alerts } = job();
      const steps = [
        () => history(["c1", HOME], ["c2", HOME]),
        () => buy("c1", "t1", 150_000, AWAY, 60),
        () => buy("c2", "u1", 150_000, AWAY, 60.5),
        () => buy("c1", "t2", 200_000, AWAY, 61),
        () => buy("c2", "u2", 150_000, AWAY, 61.5),
        () => buy("c1", "t3", 250_000, AWAY, 62),
        () => buy("c1", "t4", 250_000, AWAY, 62.5),
        () => buy("c2", "u3", 150_000, AWAY, 80), // too late for c2's burst
      ];
      steps.forEach((step, i) => {
        if (i === restartAt) driver.restart();
        step();
      });
      return alerts().map((o) => o.value.alertId);
    };
    expect(script(-1)).toEqual([`${TENANT}/c1:t1:t3`]);
    for (let split = 0; split <= 8; split++) expect(script(split), `restart before step ${split}`).toEqual([`${TENANT}/c1:t1:t3`]);
  });
});

describe("fraud example job: purchases out of order", () => {
  /** Two producers whose purchases land on different source partitions of the topic. */
  const FEED_A = "acquirer-1";
  const FEED_B = "acquirer-2";

  it("out of order across source partitions: a source behind the others holds event time back, so its cards' purchases are not late and still alert", () => {
    const { driver, buy, alerts } = job();
    // c3's purchases come through FEED_A, c1's through FEED_B; both cards are on one task.
    expect(driver.partitionOf(FEED_A)).not.toBe(driver.partitionOf(FEED_B));
    expect(driver.partitionOf("c3")).toBe(driver.partitionOf("c1"));
    for (const [n, [amount, minute]] of [
      [2_500, 0],
      [150_000, 5],
      [4_000, 30],
    ].entries()) {
      buy("c3", `c3-h${n + 1}`, amount!, HOME, minute!, FEED_A);
      buy("c1", `c1-h${n + 1}`, amount!, HOME, minute!, FEED_B);
    }
    // FEED_A runs half an hour ahead of FEED_B.
    buy("c3", "u1", 3_000, HOME, 80, FEED_A);
    buy("c3", "u2", 3_000, HOME, 90, FEED_A);
    // c1's burst comes later, through FEED_B: by FEED_A's event time (minute 90) it would be late.
    buy("c1", "t1", 150_000, AWAY, 60, FEED_B);
    buy("c1", "t2", 200_000, AWAY, 62, FEED_B);
    expect(alerts()).toEqual([]);
    buy("c1", "t3", 250_000, AWAY, 64, FEED_B);
    expect(alerts().map((o) => o.value.alertId)).toEqual([`${TENANT}/c1:t1:t3`]);
    expect(driver.readAll("late")).toEqual([]);
  });

  // Renamed from "…held until every source has passed them, then the same alert": a pattern reads
  // each card in event-time order by the card's own watermark (no disorder tolerated by this job),
  // so a purchase behind the card's latest is late whichever source partition it comes from.
  it("out of order across source partitions for one card: the purchase behind its latest is late, as within one source", () => {
    const { driver, buy, alerts } = job();
    expect(driver.partitionOf(FEED_A)).not.toBe(driver.partitionOf(FEED_B));
    buy("c1", "c1-h1", 2_500, HOME, 0, FEED_B);
    buy("c1", "c1-h2", 150_000, HOME, 5, FEED_A);
    buy("c1", "c1-h3", 4_000, HOME, 30, FEED_A);
    buy("c1", "t2", 200_000, AWAY, 62, FEED_A);
    buy("c1", "t1", 150_000, AWAY, 60, FEED_B); // behind t2: the job's event time (FEED_B's, minute 0) has not passed it, c1's own has
    buy("c1", "t3", 250_000, AWAY, 64, FEED_A);
    driver.advanceWatermark(at(120));
    expect(alerts()).toEqual([]);
    expect(driver.readAll("late").map((o) => [o.key, (o.value as { value: Purchase }).value.transactionId])).toEqual([[`${TENANT}/c1`, "t1"]]);
  });

  it("out of order within one source partition: the purchase behind it is late, not matched", () => {
    const { driver, buy, history, alerts } = job();
    history(["c1", HOME]);
    buy("c1", "t2", 200_000, AWAY, 62);
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t3", 250_000, AWAY, 64);
    driver.advanceWatermark(at(120));
    expect(alerts()).toEqual([]);
    expect(driver.readAll("late").map((o) => [o.key, (o.value as { value: Purchase }).value.transactionId])).toEqual([[`${TENANT}/c1`, "t1"]]);
  });
});
