import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  type FraudAlert,
  FraudJob,
  type FraudJobOptions,
  type FraudState,
  type FraudTransaction,
  fraudRecord,
  learnLocation,
  toFraudTransaction,
} from "../../../src/engine/jobs/fraud.js";
import { CardTransactionSchema, LocationSchema } from "../../../src/gen/weir/events/v1/card_pb.js";
import { type Emitter, MemoryStore } from "../../../src/engine/types.js";

type Out = { stream: string; key: string; value: FraudAlert; timestampMs: number };
const MIN = 60_000;
const HOME = { country: "US", city: "Seattle" };
const AWAY = { country: "NG", city: "Lagos" };

function job(options: Partial<FraudJobOptions> = {}) {
  const store = new MemoryStore<FraudState>();
  const op = new FraudJob({ store, ...options });
  const out: Out[] = [];
  const emitter: Emitter<FraudAlert> = { emit: (stream, key, value, timestampMs) => out.push({ stream, key, value, timestampMs }) };
  const buy = (cardId: string, transactionId: string, amountMinor: number, where: { country: string; city: string }, atMin: number) => {
    const value: FraudTransaction = { cardId, transactionId, amountMinor, merchantId: `m-${transactionId}`, ...where };
    op.process({ key: cardId, value, timestampMs: atMin * MIN }, emitter);
  };
  /** A card's everyday history at home: small and one large purchase. */
  const history = (cardId: string, where = HOME) => {
    buy(cardId, `${cardId}-h1`, 2_500, where, 0);
    buy(cardId, `${cardId}-h2`, 150_000, where, 5);
    buy(cardId, `${cardId}-h3`, 4_000, where, 30);
  };
  return { op, out, store, buy, history };
}

describe("fraud job", () => {
  it("three high-value purchases in a new city within 5 minutes: exactly one alert", () => {
    const { out, buy, history } = job();
    history("c1");
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t2", 200_000, AWAY, 62);
    buy("c1", "t3", 250_000, AWAY, 64);
    expect(out).toEqual([
      {
        stream: "alerts",
        key: "c1",
        timestampMs: 64 * MIN,
        value: {
          alertId: "c1:t1:t3",
          cardId: "c1",
          location: AWAY,
          transactionIds: ["t1", "t2", "t3"],
          totalAmountMinor: 600_000,
          firstAtMs: 60 * MIN,
          lastAtMs: 64 * MIN,
        },
      },
    ]);
  });

  it("small purchases in between do not break the burst", () => {
    const { out, buy, history } = job();
    history("c1");
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "s1", 1_000, AWAY, 61);
    buy("c1", "s2", 900, HOME, 61.5);
    buy("c1", "t2", 200_000, AWAY, 62);
    buy("c1", "t3", 250_000, AWAY, 64);
    expect(out.map((o) => o.value.transactionIds)).toEqual([["t1", "t2", "t3"]]);
  });

  it("the same burst spread over 20 minutes: no alert", () => {
    const { out, buy, history, op } = job();
    history("c1");
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t2", 200_000, AWAY, 70);
    buy("c1", "t3", 250_000, AWAY, 80);
    expect(out).toEqual([]);
    expect(op.stats.expired).toBe(1);
  });

  it("four purchases in the burst: still one alert (the first three)", () => {
    const { out, buy, history, op } = job();
    history("c1");
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t2", 200_000, AWAY, 61);
    buy("c1", "t3", 250_000, AWAY, 62);
    buy("c1", "t4", 300_000, AWAY, 63);
    expect(out.map((o) => o.value.alertId)).toEqual(["c1:t1:t3"]);
    expect(op.stats.matches).toBe(1);
  });

  it("a second card interleaved: no cross-talk", () => {
    const { out, buy, history } = job();
    history("c1");
    history("c2", AWAY); // Lagos is home for c2
    buy("c1", "a1", 150_000, AWAY, 60);
    buy("c2", "b1", 150_000, AWAY, 60);
    buy("c2", "b2", 160_000, HOME, 60.5); // Seattle is new for c2
    buy("c1", "a2", 200_000, AWAY, 61);
    buy("c2", "b3", 170_000, AWAY, 61);
    buy("c2", "b4", 180_000, HOME, 61.5);
    buy("c1", "a3", 250_000, AWAY, 62);
    buy("c2", "b5", 190_000, HOME, 62.5);
    expect(out.map((o) => [o.key, o.value.alertId, o.value.location, o.value.totalAmountMinor])).toEqual([
      ["c1", "c1:a1:a3", AWAY, 600_000],
      ["c2", "c2:b2:b5", HOME, 530_000],
    ]);
  });

  it("high-value purchases in the home city: no alert", () => {
    const { out, buy, history } = job();
    history("c1");
    buy("c1", "t1", 150_000, HOME, 60);
    buy("c1", "t2", 200_000, HOME, 61);
    buy("c1", "t3", 250_000, HOME, 62);
    expect(out).toEqual([]);
  });

  it("a location is new only until the card has used it (at the burst's first purchase)", () => {
    const { out, buy, history } = job();
    history("c1");
    buy("c1", "s1", 1_000, AWAY, 50); // Lagos is known from now on
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t2", 200_000, AWAY, 61);
    buy("c1", "t3", 250_000, AWAY, 62);
    expect(out).toEqual([]);
  });

  it("amounts must be above the threshold; N, threshold and M are options", () => {
    const a = job();
    a.buy("c1", "t1", 100_000, AWAY, 0);
    a.buy("c1", "t2", 100_001, AWAY, 1);
    a.buy("c1", "t3", 100_001, AWAY, 2);
    expect(a.out).toEqual([]);
    const b = job({ minPurchases: 2, amountThresholdMinor: 500, withinMinutes: 1 });
    b.buy("c1", "t1", 501, AWAY, 0);
    b.buy("c1", "t2", 501, AWAY, 0.99);
    expect(b.out.map((o) => o.value.alertId)).toEqual(["c1:t1:t2"]);
  });

  it("known locations are bounded to the last K", () => {
    const { buy, store } = job({ knownLocationsPerCard: 2 });
    buy("c1", "t1", 1, { country: "US", city: "A" }, 0);
    buy("c1", "t2", 1, { country: "US", city: "B" }, 1);
    buy("c1", "t3", 1, { country: "US", city: "A" }, 2);
    buy("c1", "t4", 1, { country: "US", city: "C" }, 3);
    expect(store.get("c1")!.context).toEqual({ recent: ["US/A", "US/C"] });
    expect(learnLocation({ recent: [] }, toFraudTransaction(create(CardTransactionSchema, {})), 1)).toEqual({ recent: ["/"] });
  });

  it("out-of-order arrival within maxOutOfOrdernessMs gives the same alert", () => {
    const { out, buy, history, op } = job({ maxOutOfOrdernessMs: 2 * MIN });
    history("c1");
    buy("c1", "t2", 200_000, AWAY, 62);
    buy("c1", "t1", 150_000, AWAY, 60);
    buy("c1", "t3", 250_000, AWAY, 64);
    expect(out).toEqual([]);
    op.advanceWatermark(64 * MIN, { emit: (stream, key, value, timestampMs) => out.push({ stream, key, value, timestampMs }) });
    expect(out.map((o) => o.value.alertId)).toEqual(["c1:t1:t3"]);
  });

  it("maps the generated CardTransaction", () => {
    const tx = create(CardTransactionSchema, {
      transactionId: "tx-9",
      cardId: "card-1",
      amountMinor: 123_456n,
      currency: "USD",
      merchantId: "m-1",
      location: create(LocationSchema, { country: "NG", city: "Lagos", latitude: 6.5, longitude: 3.4 }),
    });
    expect(fraudRecord(tx, 42)).toEqual({
      key: "card-1",
      timestampMs: 42,
      value: { cardId: "card-1", amountMinor: 123_456, country: "NG", city: "Lagos", merchantId: "m-1", transactionId: "tx-9" },
    });
  });
});
