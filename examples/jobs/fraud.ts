/**
 * Scenario 2, written on the public job API as a user would: card fraud — N or more purchases above
 * an amount, from a location new for the card, within M minutes → one alert per burst, delivered
 * to the webhook.
 *
 * Keyed by card id (the runtime repartitions if producers keyed otherwise), event time =
 * transaction time. Each card's known locations are learned from its own history (every
 * transaction, whatever the amount), the K most recently used, in the pattern's per-key context.
 * A burst starts with a high-value purchase from a location not known at that moment; the
 * following purchases must be high-value and from the same location. Skip past the last event:
 * one alert per burst. Amounts are compared in the transaction's minor units (no FX).
 *
 * Output "alerts": FraudAlert `{ alertId, cardId: "<tenant>/<card>", location, transactionIds,
 * totalAmountMinor, firstAtMs, lastAtMs }`, also an alert (weir.alerts, the webhook).
 */
import { CardTransactionSchema } from "weir/events";
import { AfterMatchSkip, Pattern, defineJob, pattern, stream, z, type CepMatch } from "weir/jobs";

export type Purchase = {
  readonly cardId: string;
  readonly amountMinor: number;
  readonly country: string;
  readonly city: string;
  readonly merchantId: string;
  readonly transactionId: string;
};

/** A card's recently used locations, least recently used first. */
export type KnownLocations = { readonly recent: readonly string[] };

export type FraudAlert = {
  /** `${cardId}:${first transaction id}:${last transaction id}`: stable across replays. */
  readonly alertId: string;
  readonly cardId: string;
  readonly location: { readonly country: string; readonly city: string };
  readonly transactionIds: readonly string[];
  readonly totalAmountMinor: number;
  readonly firstAtMs: number;
  readonly lastAtMs: number;
};

export const fraudOptions = z.strictObject({
  /** N: purchases in a burst. */
  minPurchases: z.int().min(1).default(3),
  /** Purchases count when amountMinor > this (minor units of the transaction's currency). */
  amountThresholdMinor: z.int().min(0).default(100_000),
  /** M: the burst's first and last purchase are less than M minutes apart. */
  withinMinutes: z.number().positive().default(10),
  /** K: locations remembered per card. */
  knownLocationsPerCard: z.int().min(1).default(20),
  /**
   * How far a card's purchases may arrive out of event-time order (ms). 0 suits producers that key
   * purchases by card (one card, one partition, in order); raise it when one card's purchases come
   * through several partitions (say, two acquirers), or a purchase behind the card's latest is late.
   */
  maxOutOfOrdernessMs: z.int().min(0).default(0),
});

const BURST = "purchases";
const where = (p: { country: string; city: string }) => `${p.country}/${p.city}`;

function toAlert(m: CepMatch<Purchase, typeof BURST>): FraudAlert {
  const purchases = m.events[BURST];
  const first = purchases[0]!;
  const last = purchases[purchases.length - 1]!;
  return {
    alertId: `${m.key}:${first.transactionId}:${last.transactionId}`,
    cardId: m.key,
    location: { country: first.country, city: first.city },
    transactionIds: purchases.map((p) => p.transactionId),
    totalAmountMinor: purchases.reduce((sum, p) => sum + p.amountMinor, 0),
    firstAtMs: m.startMs,
    lastAtMs: m.endMs,
  };
}

export default defineJob({
  name: "fraud",
  version: 1,
  description: "bursts of high-value purchases from a new location → one alert per burst",
  options: fraudOptions,
  inputs: { transactions: stream(CardTransactionSchema, { key: (tx) => tx.cardId }) },
  idle: { afterMs: 60_000 },
  map: ({ value: tx }): Purchase => ({
    cardId: tx.cardId,
    amountMinor: Number(tx.amountMinor),
    country: tx.location?.country ?? "",
    city: tx.location?.city ?? "",
    merchantId: tx.merchantId,
    transactionId: tx.transactionId,
  }),
  step: ({ options }) =>
    pattern({
      pattern: Pattern.begin<Purchase, KnownLocations, typeof BURST>(BURST)
        .where((p) => p.amountMinor > options.amountThresholdMinor)
        // The first purchase is from a location the card has not used lately; the rest from the same one.
        .where((p, ctx) => {
          const first = ctx.events(BURST)[0];
          return first ? where(p) === where(first) : !ctx.context.recent.includes(where(p));
        })
        .timesOrMore(options.minPurchases)
        .within(options.withinMinutes * 60_000)
        .afterMatch(AfterMatchSkip.skipPastLastEvent()),
      context: {
        initial: () => ({ recent: [] }),
        update: (known, p) => {
          const recent = [...known.recent.filter((l) => l !== where(p)), where(p)];
          return { recent: recent.slice(Math.max(0, recent.length - options.knownLocationsPerCard)) };
        },
      },
      maxPartialMatchesPerKey: 100,
      maxOutOfOrdernessMs: options.maxOutOfOrdernessMs,
      select: toAlert,
      matchesStream: "alerts",
    }),
  outputs: {
    alerts: {
      alert: (a: FraudAlert) => ({
        id: `fraud:${a.alertId}`,
        kind: "fraud",
        summary: `Possible card fraud: card ${a.cardId}, ${a.transactionIds.length} purchases totalling ${(a.totalAmountMinor / 100).toFixed(2)} from ${a.location.city}, ${a.location.country}, new for this card`,
      }),
    },
  },
});
