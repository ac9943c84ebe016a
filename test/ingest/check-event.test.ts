import { describe, expect, it } from "vitest";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { EventChecker, type CheckResult } from "../../src/ingest/check-event.js";
import { envelopeOf, type EnvelopeOptions } from "../../src/client/envelope.js";
import { ResultCode } from "../../src/gen/weir/v1/protocol_pb.js";
import { envelopeBytes } from "../../src/ingest/envelope-bytes.js";
import { HttpAccessLogSchema } from "../../src/gen/weir/events/v1/access_log_pb.js";
import { CardTransactionSchema } from "../../src/gen/weir/events/v1/card_pb.js";
import { QuoteSchema, TradeSchema } from "../../src/gen/weir/events/v1/market_pb.js";
import type { ErrorCode, WeirError } from "../../src/errors.js";
import { accessLog, builtinRegistry, cardTransaction, quote, trade, validSamples } from "../unit-fixtures/events.js";

const TENANT = "acme";
const MAX_EVENT_BYTES = 512;
const checker = new EventChecker(builtinRegistry(), MAX_EVENT_BYTES);

function event<Desc extends DescMessage>(schema: Desc, payload: MessageInitShape<Desc>, opts: EnvelopeOptions = {}) {
  return envelopeOf(schema, payload, { id: "evt-1", ...opts });
}

/** The refusal of a check, asserting its code. */
function refusal(result: CheckResult, code: ErrorCode): WeirError {
  if (result.ok) throw new Error(`expected ${code}, the event passed`);
  expect(result.error.code).toBe(code);
  return result.error;
}

describe("EventChecker", () => {
  it.each(validSamples.map((s) => [s.schema.typeName, s] as const))("passes a valid %s and resolves its topic", (_, sample) => {
    const result = checker.check(event(sample.schema, sample.payload), TENANT);
    expect(result).toMatchObject({ ok: true, type: { name: sample.schema.typeName, topic: sample.topic } });
  });

  it("passes an envelope that names no tenant or the connection's own", () => {
    expect(checker.check(event(QuoteSchema, quote, { id: "e" }), TENANT).ok).toBe(true);
    const named = event(QuoteSchema, quote);
    named.tenant = TENANT;
    expect(checker.check(named, TENANT).ok).toBe(true);
  });

  it.each([99, 600, -1])("refuses an HttpAccessLog with status %i, naming the status field", (status) => {
    const err = refusal(checker.check(event(HttpAccessLogSchema, { ...accessLog, status }), TENANT), "WEIR_ERR_INVALID_PAYLOAD");
    expect(err.spec.result).toBe(ResultCode.INVALID);
    expect(err.message).toContain("weir.events.v1.HttpAccessLog");
    expect(err.message).toContain("status:");
  });

  it.each([0n, -100n])("refuses a CardTransaction with amount_minor %i, naming the field", (amountMinor) => {
    const err = refusal(checker.check(event(CardTransactionSchema, { ...cardTransaction, amountMinor }), TENANT), "WEIR_ERR_INVALID_PAYLOAD");
    expect(err.message).toContain("amount_minor:");
    expect(err.message).toContain("greater than 0");
  });

  it("refuses a Trade with an empty symbol, naming the field", () => {
    const err = refusal(checker.check(event(TradeSchema, { ...trade, symbol: "" }), TENANT), "WEIR_ERR_INVALID_PAYLOAD");
    expect(err.message).toContain("symbol:");
  });

  it("refuses a Quote whose bid is above its ask (message-level CEL rule)", () => {
    const err = refusal(checker.check(event(QuoteSchema, { ...quote, bid: 10.7, ask: 10.6 }), TENANT), "WEIR_ERR_INVALID_PAYLOAD");
    expect(err.message).toContain("bid must not be above ask");
    expect(err.message).toContain("quote.bid_not_above_ask");
  });

  it("passes a Quote whose bid equals its ask", () => {
    expect(checker.check(event(QuoteSchema, { ...quote, bid: 10.6, ask: 10.6 }), TENANT).ok).toBe(true);
  });

  it("refuses an envelope without event_time, naming the field", () => {
    const env = event(QuoteSchema, quote);
    env.eventTime = undefined;
    const err = refusal(checker.check(env, TENANT), "WEIR_ERR_INVALID_ENVELOPE");
    expect(err.spec.result).toBe(ResultCode.INVALID);
    expect(err.message).toContain("event_time:");
    expect(err.message).toContain("required");
  });

  it("refuses an event_time more than one hour in the future", () => {
    const env = event(QuoteSchema, quote, { eventTimeMs: Date.now() + 3600_000 + 60_000 });
    const err = refusal(checker.check(env, TENANT), "WEIR_ERR_INVALID_ENVELOPE");
    expect(err.message).toContain("event_time:");
    expect(err.message).toContain("event_time.not_in_future");
  });

  it("passes an event_time less than one hour in the future", () => {
    const env = event(QuoteSchema, quote, { eventTimeMs: Date.now() + 3600_000 - 60_000 });
    expect(checker.check(env, TENANT).ok).toBe(true);
  });

  it("refuses an envelope without an id, naming the field", () => {
    const err = refusal(checker.check(event(QuoteSchema, quote, { id: "" }), TENANT), "WEIR_ERR_INVALID_ENVELOPE");
    expect(err.message).toContain("id:");
  });

  it("refuses a type the schema image does not have, naming the type", () => {
    const env = event(QuoteSchema, quote);
    env.type = "weir.events.v1.Bogus";
    const err = refusal(checker.check(env, TENANT), "WEIR_ERR_UNKNOWN_TYPE");
    expect(err.spec.result).toBe(ResultCode.UNKNOWN_TYPE);
    expect(err.message).toContain("weir.events.v1.Bogus");
  });

  it("refuses a payload that does not decode as its type", () => {
    const env = event(QuoteSchema, quote);
    env.payload = new Uint8Array([0x0a, 0x05, 0x41]); // field 1, length 5, but only one byte follows
    const err = refusal(checker.check(env, TENANT), "WEIR_ERR_INVALID_PAYLOAD");
    expect(err.message).toContain("weir.events.v1.Quote");
    expect(err.message).toContain("does not decode");
  });

  it("refuses an event over maxEventBytes with WEIR_ERR_EVENT_TOO_LARGE, and passes one of exactly that size", () => {
    const ofBytes = (size: number) => {
      for (let n = 0; n <= 1024; n++) {
        const env = event(HttpAccessLogSchema, { ...accessLog, userAgent: "x".repeat(n) });
        if (envelopeBytes(env) === size) return env;
      }
      throw new Error(`cannot build an event of ${size} bytes`);
    };
    expect(checker.check(ofBytes(MAX_EVENT_BYTES), TENANT).ok).toBe(true);
    const err = refusal(checker.check(ofBytes(MAX_EVENT_BYTES + 1), TENANT), "WEIR_ERR_EVENT_TOO_LARGE");
    expect(err.spec.result).toBe(ResultCode.TOO_LARGE);
    expect(err.message).toBe(`event of ${MAX_EVENT_BYTES + 1} bytes (payload, attributes and ids) exceeds max_event_bytes ${MAX_EVENT_BYTES}`);
  });

  it("counts attributes, ids and keys toward maxEventBytes, not the payload alone", () => {
    const small = event(QuoteSchema, quote, { attributes: { note: "x".repeat(MAX_EVENT_BYTES) } });
    expect(small.payload.byteLength).toBeLessThan(100);
    refusal(checker.check(small, TENANT), "WEIR_ERR_EVENT_TOO_LARGE");
    refusal(checker.check(event(QuoteSchema, quote, { partitionKey: "k".repeat(MAX_EVENT_BYTES) }), TENANT), "WEIR_ERR_EVENT_TOO_LARGE");
    // UTF-8 bytes, not characters: 200 "é" are 400 bytes.
    expect(envelopeBytes(event(QuoteSchema, quote, { attributes: { a: "é".repeat(200) } }))).toBe(envelopeBytes(event(QuoteSchema, quote)) + 1 + 400);
  });

  it.each([
    ["id", { id: "X\0first" }, "id"],
    ["partition key", { partitionKey: "k\u0001" }, "partition_key"],
    ["attribute name", { attributes: { "k\0hidden": "v" } }, "attributes (a name)"],
    ["id (DEL)", { id: "X\u007f" }, "id"],
  ] as const)("refuses a control character in the %s (C Kafka clients cut names at NUL)", (_, opts, field) => {
    const err = refusal(checker.check(event(QuoteSchema, quote, opts as EnvelopeOptions), TENANT), "WEIR_ERR_INVALID_ENVELOPE");
    expect(err.message).toBe(`invalid envelope: ${field}: must not contain control characters [weir.no_control_chars]`);
    expect(err.spec.result).toBe(ResultCode.INVALID);
  });

  it("passes control characters in attribute values (header values are bytes) and non-ASCII names", () => {
    expect(checker.check(event(QuoteSchema, quote, { id: "ünïcode-1", attributes: { näme: "a\0b" } }), TENANT).ok).toBe(true);
  });

  it("refuses a Quote whose ask is Infinity, which passes its rules (double.gt 0, bid <= ask), naming the field", () => {
    const err = refusal(checker.check(event(QuoteSchema, { ...quote, ask: Number.POSITIVE_INFINITY }), TENANT), "WEIR_ERR_INVALID_PAYLOAD");
    expect(err.message).toContain("ask: Infinity is not a finite number [weir.finite]");
    // 1e308 is finite: a rule of the schema's own must bound it.
    expect(checker.check(event(QuoteSchema, { ...quote, ask: 1e308 }), TENANT).ok).toBe(true);
  });

  it.each([
    ["NaN", Number.NaN],
    ["-Infinity", Number.NEGATIVE_INFINITY],
  ])("refuses a Quote whose bid size is %s", (_, bidSize) => {
    refusal(checker.check(event(QuoteSchema, { ...quote, bidSize }), TENANT), "WEIR_ERR_INVALID_PAYLOAD");
  });

  it.each([
    ["nanos -1", { seconds: 1_700_000_000n, nanos: -1 }, "nanos -1 is outside"],
    ["nanos 2e9", { seconds: 1_700_000_000n, nanos: 2_000_000_000 }, "nanos 2000000000 is outside"],
  ])("refuses an event_time with %s", (_, time, reason) => {
    const env = event(QuoteSchema, quote);
    env.eventTime = { ...env.eventTime!, ...time };
    const err = refusal(checker.check(env, TENANT), "WEIR_ERR_INVALID_ENVELOPE");
    expect(err.message).toContain(`event_time: ${reason}`);
  });

  it("echoes at most 200 characters of what the client sent in a reason", () => {
    const env = event(QuoteSchema, quote);
    env.tenant = "g".repeat(400);
    const big = new EventChecker(builtinRegistry(), 1 << 20);
    const err = refusal(big.check(env, TENANT), "WEIR_ERR_TENANT_MISMATCH");
    expect(err.message).toBe(`event names tenant ${"g".repeat(200)}… (200 more characters), connection is acme`);
  });

  it("refuses an envelope naming another tenant with WEIR_ERR_TENANT_MISMATCH", () => {
    const env = event(QuoteSchema, quote);
    env.tenant = "globex";
    const err = refusal(checker.check(env, TENANT), "WEIR_ERR_TENANT_MISMATCH");
    expect(err.spec.result).toBe(ResultCode.UNAUTHORIZED);
    expect(err.message).toBe("event names tenant globex, connection is acme");
  });
});
