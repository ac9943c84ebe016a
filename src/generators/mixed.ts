/**
 * A mixed stream over the three scenarios with a planned share of duplicates (an earlier
 * event re-sent with the same id) and invalid events (each kind of rule broken), labelled
 * so a test or the demo can check every outcome.
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { HttpAccessLogSchema } from "../gen/weir/events/v1/access_log_pb.js";
import { CardTransactionSchema } from "../gen/weir/events/v1/card_pb.js";
import { QuoteSchema } from "../gen/weir/events/v1/market_pb.js";
import { envelopeOf } from "../client/envelope.js";
import { createRng, type Rng } from "./rng.js";
import { accessLogEvent } from "./access-log.js";
import { cardEvents } from "./card.js";
import { marketFeed, referenceEvents } from "./market.js";

export type Expectation = "valid" | "invalid" | "duplicate";
export type PlannedEvent = { readonly env: Envelope; readonly expect: Expectation };

export type MixedOptions = { count: number; seed?: number; duplicateRate?: number; invalidRate?: number; baseTimeMs?: number; idPrefix?: string };

function invalidEvent(rng: Rng, n: number, baseTimeMs: number, idPrefix: string): Envelope {
  const id = `${idPrefix}bad-${n}`;
  switch (n % 5) {
    case 0: // status out of range
      return envelopeOf(HttpAccessLogSchema, { host: "web-1", method: "GET", path: "/", status: 700 }, { id, eventTimeMs: baseTimeMs });
    case 1: // amount must be > 0
      return envelopeOf(
        CardTransactionSchema,
        { transactionId: id, cardId: "c", amountMinor: 0n, currency: "USD", merchantId: "m", location: { country: "US", city: "Boston" } },
        { id, eventTimeMs: baseTimeMs },
      );
    case 2: // empty symbol
      return envelopeOf(QuoteSchema, { symbol: "", bid: 1, ask: 2 }, { id, eventTimeMs: baseTimeMs });
    case 3: // unknown type
      return { ...envelopeOf(QuoteSchema, { symbol: "X", bid: 1, ask: 2 }, { id, eventTimeMs: baseTimeMs }), type: "acme.v1.Unknown" };
    default: // payload that does not decode as its type
      return { ...envelopeOf(QuoteSchema, { symbol: "X", bid: 1, ask: 2 }, { id, eventTimeMs: baseTimeMs }), payload: new Uint8Array([0x0a, 0xff, 0xff]) };
  }
}

export function mixedTraffic(opts: MixedOptions): PlannedEvent[] {
  const rng = createRng(opts.seed ?? 42);
  const baseTimeMs = opts.baseTimeMs ?? Date.now() - 30 * 60_000;
  const idPrefix = opts.idPrefix ?? `${baseTimeMs}-`;
  const market = marketFeed(rng, baseTimeMs);
  const out: PlannedEvent[] = referenceEvents(baseTimeMs).map((env) => ({ env: { ...env, id: idPrefix + env.id }, expect: "valid" as const }));
  const valid: Envelope[] = [];
  let bad = 0;
  for (let i = 0; out.length < opts.count; i++) {
    if (valid.length > 10 && rng.chance(opts.duplicateRate ?? 0.05)) {
      out.push({ env: rng.pick(valid), expect: "duplicate" });
      continue;
    }
    if (rng.chance(opts.invalidRate ?? 0.05)) {
      out.push({ env: invalidEvent(rng, bad++, baseTimeMs, idPrefix), expect: "invalid" });
      continue;
    }
    const kind = i % 3;
    const envs = kind === 0 ? [accessLogEvent(rng, i, { baseTimeMs })] : kind === 1 ? cardEvents(rng, i, { baseTimeMs }) : [market.next(i)];
    for (const e of envs) {
      const env = { ...e, id: `${idPrefix}${i}-${e.id.slice(0, 8)}` };
      valid.push(env);
      out.push({ env, expect: "valid" });
    }
  }
  return out.slice(0, opts.count);
}
