/**
 * Card transactions (scenario 2): everyday purchases at a card's home city, with planted fraud:
 * a burst of high-value purchases from a city new for that card within a few minutes.
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { CardTransactionSchema } from "../gen/weir/events/v1/card_pb.js";
import { envelopeOf } from "../client/envelope.js";
import type { Rng } from "./rng.js";

const cities = [
  { country: "US", city: "Boston", latitude: 42.36, longitude: -71.06 },
  { country: "GB", city: "London", latitude: 51.51, longitude: -0.13 },
  { country: "DE", city: "Berlin", latitude: 52.52, longitude: 13.4 },
  { country: "BR", city: "Sao Paulo", latitude: -23.55, longitude: -46.63 },
  { country: "JP", city: "Tokyo", latitude: 35.68, longitude: 139.69 },
];

export type CardOptions = { baseTimeMs: number; cards?: number; fraudRate?: number };

/** One transaction, or (with probability fraudRate) the first of a planted fraud burst of `burst` events. */
export function cardEvents(rng: Rng, i: number, opts: CardOptions): Envelope[] {
  const cardNo = rng.int(1, opts.cards ?? 200);
  const cardId = `card-${cardNo}`;
  const home = cities[cardNo % cities.length]!;
  const t = opts.baseTimeMs + i * 50;
  const tx = (n: number, amountMinor: number, location: typeof home, at: number) =>
    envelopeOf(
      CardTransactionSchema,
      { transactionId: `tx-${i}-${n}`, cardId, amountMinor: BigInt(amountMinor), currency: "USD", merchantId: `m-${rng.int(1, 500)}`, location },
      { eventTimeMs: at, partitionKey: cardId },
    );
  if (!rng.chance(opts.fraudRate ?? 0.01)) return [tx(0, rng.int(200, 15_000), home, t)];
  const away = cities[(cardNo + 1 + rng.int(0, cities.length - 2)) % cities.length]!;
  return [0, 1, 2].map((n) => tx(n, rng.int(100_000, 500_000), away, t + n * 60_000));
}

/**
 * `count` transactions (bursts included) as a feed sends them: in event-time order. cardEvents
 * plants a burst's purchases a minute apart from one call; a real feed sends each when it happens,
 * between the other cards' transactions.
 */
export function cardFeed(rng: Rng, count: number, opts: CardOptions): Envelope[] {
  const events: Envelope[] = [];
  for (let i = 0; events.length < count; i++) events.push(...cardEvents(rng, i, opts));
  const at = (e: Envelope) => Number(e.eventTime!.seconds) * 1000 + Math.floor(e.eventTime!.nanos / 1e6);
  return events.sort((a, b) => at(a) - at(b));
}
