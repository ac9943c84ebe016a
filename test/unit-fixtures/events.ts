/** Valid events of each scenario type, and the ingest service wired to fake ports. */
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import type { TenantQuotas } from "../../src/ingest/tenant-quotas.js";
import { envelopeOf, type EnvelopeOptions } from "../../src/client/envelope.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { HttpAccessLogSchema } from "../../src/gen/weir/events/v1/access_log_pb.js";
import { CardTransactionSchema } from "../../src/gen/weir/events/v1/card_pb.js";
import { QuoteSchema, Side, TradeSchema } from "../../src/gen/weir/events/v1/market_pb.js";
import { FxRateSchema, InstrumentSchema } from "../../src/gen/weir/events/v1/reference_pb.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { EventChecker } from "../../src/ingest/check-event.js";
import { Admission } from "../../src/ingest/admission.js";
import { IngestService, type IngestOptions } from "../../src/ingest/ingest-service.js";
import { FakeDedupStore, FakeEventLog, FakePublishedLookup } from "./fake-ports.js";
import type { IngestObserver } from "../../src/ingest/ports.js";
import type { Clock } from "../../src/ingest/clock.js";

export const accessLog = { host: "api.example.com", method: "GET", path: "/v1/items", status: 503, bytesSent: 512n, latencyMs: 12 };
export const cardTransaction = {
  transactionId: "tx-1",
  cardId: "card-1",
  amountMinor: 12_500n,
  currency: "USD",
  merchantId: "m-1",
  location: { country: "FR", city: "Paris", latitude: 48.85, longitude: 2.35 },
};
export const quote = { symbol: "ACME", bid: 10.5, ask: 10.6, bidSize: 100, askSize: 200, venue: "XNAS" };
export const trade = { tradeId: "t-1", accountId: "acc-1", symbol: "ACME", side: Side.BUY, quantity: 10, price: 10.55 };
export const instrument = { symbol: "ACME", sector: "Industrials", currency: "USD", contractMultiplier: 1 };
export const fxRate = { base: "EUR", quote: "USD", rate: 1.08 };

/** One valid payload per built-in event type. */
export const validSamples: ReadonlyArray<{ schema: DescMessage; payload: MessageInitShape<DescMessage>; topic: string }> = [
  { schema: HttpAccessLogSchema, payload: accessLog, topic: "weir.events.http-access-log" },
  { schema: CardTransactionSchema, payload: cardTransaction, topic: "weir.events.card-transaction" },
  { schema: QuoteSchema, payload: quote, topic: "weir.events.quote" },
  { schema: TradeSchema, payload: trade, topic: "weir.events.trade" },
  { schema: InstrumentSchema, payload: instrument, topic: "weir.reference.instrument" },
  { schema: FxRateSchema, payload: fxRate, topic: "weir.reference.fx-rate" },
];

export const QUOTE_TOPIC = "weir.events.quote";
export const DLQ_TOPIC = "weir.dead-letter";

/** A valid Quote event with the given id. */
export function quoteEvent(id: string, opts: EnvelopeOptions = {}): Envelope {
  return envelopeOf(QuoteSchema, quote, { ...opts, id });
}

/** A Quote event that fails its payload rules (bid above ask). */
export function invalidQuoteEvent(id: string, opts: EnvelopeOptions = {}): Envelope {
  return envelopeOf(QuoteSchema, { ...quote, bid: 11, ask: 10 }, { ...opts, id });
}

let builtin: SchemaRegistry | undefined;
export function builtinRegistry(): SchemaRegistry {
  return (builtin ??= SchemaRegistry.builtin());
}

// A checker compiles its rules on first use: share one per size limit across tests.
const checkers = new Map<number, EventChecker>();
export function sharedChecker(maxEventBytes: number): EventChecker {
  let checker = checkers.get(maxEventBytes);
  if (!checker) checkers.set(maxEventBytes, (checker = new EventChecker(builtinRegistry(), maxEventBytes)));
  return checker;
}

export type Harness = {
  service: IngestService;
  log: FakeEventLog;
  dedup: FakeDedupStore;
  /** Wired into the service only with `withLookup`. */
  lookup: FakePublishedLookup;
  admission: Admission;
  errors: Array<{ what: string; err: unknown }>;
  opts: IngestOptions;
};

export function ingestHarness(
  overrides: {
    opts?: Partial<IngestOptions>;
    maxInFlightEvents?: number;
    maxInFlightBytes?: number;
    maxEventBytes?: number;
    clock?: Clock;
    /** Verify stale claims against the fake log (without it, a stale claim counts as pending). */
    withLookup?: boolean;
    observer?: IngestObserver;
    quotas?: TenantQuotas;
    kafkaReachable?: () => boolean;
  } = {},
): Harness {
  const log = new FakeEventLog();
  const dedup = new FakeDedupStore({ pendingTtlMs: 120_000 });
  const lookup = new FakePublishedLookup(log);
  const admission = new Admission(overrides.maxInFlightEvents ?? 1000, overrides.maxInFlightBytes ?? 1024 * 1024);
  const errors: Array<{ what: string; err: unknown }> = [];
  const opts: IngestOptions = {
    gatewayId: "gw-test",
    deadLetterTopic: DLQ_TOPIC,
    retryAfterMs: 250,
    publishTimeoutMs: 5_000,
    ...overrides.opts,
  };
  const service = new IngestService(
    {
      log,
      dedup,
      admission,
      checker: sharedChecker(overrides.maxEventBytes ?? 1024),
      onError: (what, err) => errors.push({ what, err }),
      ...(overrides.clock ? { clock: overrides.clock } : {}),
      ...(overrides.withLookup ? { lookup } : {}),
      ...(overrides.observer ? { observer: overrides.observer } : {}),
      ...(overrides.quotas ? { quotas: overrides.quotas } : {}),
      ...(overrides.kafkaReachable ? { kafkaReachable: overrides.kafkaReachable } : {}),
    },
    opts,
  );
  return { service, log, dedup, lookup, admission, errors, opts };
}
