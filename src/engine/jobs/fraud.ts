/**
 * Scenario 2, the fraud rule: N or more purchases above an amount, from a location new for the
 * card, within M minutes -> one alert per burst.
 *
 * Keyed by card id, event time = transaction time. Each card's known locations are learned from
 * its own history (every transaction, whatever the amount), kept as the K most recently used
 * locations in the CEP operator's per-key context. A burst starts with a high-value purchase
 * from a location not known at that moment; the following purchases must be high-value and from
 * the same location (which by then is known: it was learned from the burst's first purchase, so
 * a burst cannot restart in the middle of itself). Skip-past-last-event: one alert per burst;
 * purchases after the alert in that location do not alert again (the location is now known).
 * Currency is not converted: amounts are compared in the transaction's minor units.
 */

import type { CardTransaction } from "../../gen/weir/events/v1/card_pb.js";
import { AfterMatchSkip } from "../cep/skip.js";
import { CepOperator, type CepOutput } from "../cep/operator.js";
import { Pattern } from "../cep/pattern.js";
import type { CepKeyState } from "../cep/state.js";
import type { Emitter, EngineRecord, KeyValueStore, Operator } from "../types.js";
import type { FraudRuleOptions } from "./fraud-rule.js";

export type FraudTransaction = {
  readonly cardId: string;
  readonly amountMinor: number;
  readonly country: string;
  readonly city: string;
  readonly merchantId: string;
  readonly transactionId: string;
};

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

/** A card's recently used locations (`locationKey`), least recently used first. */
export type KnownLocations = { readonly recent: readonly string[] };

export type { FraudRuleOptions } from "./fraud-rule.js";

export type FraudJobOptions = FraudRuleOptions & {
  readonly store: KeyValueStore<FraudState>;
  /** Default 0 (see CepOperator). */
  readonly maxOutOfOrdernessMs?: number;
  /** Default 100. */
  readonly maxPartialMatchesPerKey?: number;
};

export type FraudState = CepKeyState<FraudTransaction, KnownLocations>;

export const FRAUD_STAGE = "purchases";
export const FRAUD_ALERTS_STREAM = "alerts";

export function toFraudTransaction(tx: CardTransaction): FraudTransaction {
  return {
    cardId: tx.cardId,
    amountMinor: Number(tx.amountMinor),
    country: tx.location?.country ?? "",
    city: tx.location?.city ?? "",
    merchantId: tx.merchantId,
    transactionId: tx.transactionId,
  };
}

/** The engine record for a card transaction: keyed by card id, at its event time. */
export function fraudRecord(tx: CardTransaction, timestampMs: number): EngineRecord<FraudTransaction> {
  return { key: tx.cardId, value: toFraudTransaction(tx), timestampMs };
}

export function locationKey(tx: { readonly country: string; readonly city: string }): string {
  return `${tx.country}/${tx.city}`;
}

/** `known` after a transaction: its location becomes the most recent; at most `limit` kept. */
export function learnLocation(known: KnownLocations, tx: FraudTransaction, limit: number): KnownLocations {
  const loc = locationKey(tx);
  const recent = [...known.recent.filter((l) => l !== loc), loc];
  return { recent: recent.slice(Math.max(0, recent.length - limit)) };
}

export function fraudPattern(options: FraudRuleOptions = {}): Pattern<FraudTransaction, KnownLocations, typeof FRAUD_STAGE> {
  const n = options.minPurchases ?? 3;
  const threshold = options.amountThresholdMinor ?? 100_000;
  const withinMs = (options.withinMinutes ?? 10) * 60_000;
  return Pattern.begin<FraudTransaction, KnownLocations, typeof FRAUD_STAGE>(FRAUD_STAGE)
    .where((tx) => tx.amountMinor > threshold)
    .where((tx, ctx) => {
      const first = ctx.events(FRAUD_STAGE)[0];
      return first ? locationKey(tx) === locationKey(first) : !ctx.context.recent.includes(locationKey(tx));
    })
    .timesOrMore(n)
    .within(withinMs)
    .afterMatch(AfterMatchSkip.skipPastLastEvent());
}

export function toAlert(cardId: string, purchases: readonly FraudTransaction[], firstAtMs: number, lastAtMs: number): FraudAlert {
  const first = purchases[0]!;
  const last = purchases[purchases.length - 1]!;
  return {
    alertId: `${cardId}:${first.transactionId}:${last.transactionId}`,
    cardId,
    location: { country: first.country, city: first.city },
    transactionIds: purchases.map((p) => p.transactionId),
    totalAmountMinor: purchases.reduce((sum, p) => sum + p.amountMinor, 0),
    firstAtMs,
    lastAtMs,
  };
}

/** The fraud job: card transactions in, one alert per burst out on "alerts" (late records are dropped, counted in `stats`). */
export class FraudJob implements Operator<FraudTransaction, FraudAlert> {
  private readonly cep: CepOperator<FraudTransaction, KnownLocations, typeof FRAUD_STAGE>;

  constructor(options: FraudJobOptions) {
    const limit = options.knownLocationsPerCard ?? 20;
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("knownLocationsPerCard must be an integer >= 1");
    this.cep = new CepOperator({
      pattern: fraudPattern(options),
      store: options.store,
      maxOutOfOrdernessMs: options.maxOutOfOrdernessMs ?? 0,
      maxPartialMatchesPerKey: options.maxPartialMatchesPerKey ?? 100,
      context: {
        initial: () => ({ recent: [] }),
        update: (known, tx) => learnLocation(known, tx, limit),
      },
    });
  }

  get stats() {
    return this.cep.stats;
  }

  process(record: EngineRecord<FraudTransaction>, out: Emitter<FraudAlert>): void {
    this.cep.process(record, alerts(out));
  }

  advanceWatermark(watermarkMs: number, out: Emitter<FraudAlert>): void {
    this.cep.advanceWatermark(watermarkMs, alerts(out));
  }
}

function alerts(out: Emitter<FraudAlert>): Emitter<CepOutput<FraudTransaction, typeof FRAUD_STAGE>> {
  return {
    emit(_stream, key, value, timestampMs) {
      if (value.kind !== "match") return;
      out.emit(FRAUD_ALERTS_STREAM, key, toAlert(key, value.events[FRAUD_STAGE], value.startMs, value.endMs), timestampMs);
    },
  };
}
