import { afterEach, describe, expect, it, vi } from "vitest";
import { equals, fromBinary } from "@bufbuild/protobuf";
import { ResultCode, type EventResult } from "../../src/gen/weir/v1/protocol_pb.js";
import { DeadLetterSchema } from "../../src/gen/weir/v1/dead_letter_pb.js";
import { EnvelopeSchema } from "../../src/gen/weir/v1/envelope_pb.js";
import { eventRecord } from "../../src/ingest/records.js";
import { headers } from "../../src/kafka-contract.js";
import { NotPublishedError, type IngestObserver, type StaleOutcome } from "../../src/ingest/ports.js";
import { flushMicrotasks, track, until } from "../unit-fixtures/fake-ports.js";
import { DLQ_TOPIC, QUOTE_TOPIC, ingestHarness, invalidQuoteEvent, quoteEvent, type Harness } from "../unit-fixtures/events.js";
import { systemClock } from "../../src/ingest/clock.js";

const TENANT = "acme";
const key = (id: string) => `${TENANT}:${id}`;
const codes = (results: EventResult[]) => results.map((r) => r.code);

afterEach(() => {
  vi.useRealTimers();
});

describe("IngestService: acknowledgement", () => {
  it("acks an event only after the event log acknowledged it, then marks its id published", async () => {
    const h = ingestHarness();
    h.log.holdAll();
    const answer = track(h.service.publish(TENANT, [quoteEvent("q1")]));
    const call = await h.log.call(1);
    await flushMicrotasks();
    expect(answer.settled).toBe(false);
    expect(h.dedup.state(key("q1"))).toBe("pending");

    call.ack();
    const results = await answer.promise;
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ id: "q1", code: ResultCode.ACK, errorCode: "", reason: "" });
    expect(h.log.records.map((r) => r.topic)).toEqual([QUOTE_TOPIC]);
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));
    expect(h.service.stats.ack).toBe(1);
  });

  it("publishes the payload bytes as the record value, with weir headers, keyed by the partition key", async () => {
    const h = ingestHarness({ clock: { wallMs: () => 1_700_000_000_123, monotonicMs: () => systemClock.monotonicMs() } });
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const env = quoteEvent("q1", { partitionKey: "ACME", traceparent, eventTimeMs: 1_700_000_000_000, attributes: { site: "edge-7" } });
    await h.service.publish(TENANT, [env]);

    expect(h.log.records).toHaveLength(1);
    const record = h.log.records[0]!;
    expect(record.topic).toBe(QUOTE_TOPIC);
    expect(record.key).toBe("ACME");
    expect(Buffer.from(record.value).equals(Buffer.from(env.payload))).toBe(true);
    expect(record.headers).toEqual({
      [headers.id]: "q1",
      [headers.tenant]: TENANT,
      [headers.type]: "weir.events.v1.Quote",
      [headers.traceparent]: traceparent,
      "attr.site": "edge-7",
    });
    expect(record.timestampMs).toBe(1_700_000_000_000);
  });

  it("keys a record by the event id when it has no partition key, and sends no traceparent it was not given", async () => {
    const h = ingestHarness();
    await h.service.publish(TENANT, [quoteEvent("q-no-key")]);
    const record = h.log.records[0]!;
    expect(record.key).toBe("q-no-key");
    expect(record.headers).not.toHaveProperty(headers.traceparent);
    expect(record.headers[headers.id]).toBe("q-no-key");
  });

  it("answers the events of a mixed batch in batch order, publishing events and dead letters in one call", async () => {
    const h = ingestHarness();
    h.dedup.seed(key("dup"), "done");
    const results = await h.service.publish(TENANT, [quoteEvent("ok"), invalidQuoteEvent("bad"), quoteEvent("dup")]);
    expect(results.map((r) => r.id)).toEqual(["ok", "bad", "dup"]);
    expect(codes(results)).toEqual([ResultCode.ACK, ResultCode.INVALID, ResultCode.DUPLICATE]);
    expect(h.log.calls).toHaveLength(1);
    expect(h.log.records.map((r) => [r.topic, r.headers[headers.id]])).toEqual([
      [QUOTE_TOPIC, "ok"],
      [DLQ_TOPIC, "bad"],
    ]);
  });
});

describe("IngestService: invalid events", () => {
  it("publishes a dead-letter record with the reason and the original envelope, and nacks only after that publish", async () => {
    const h = ingestHarness();
    h.log.holdAll();
    const env = invalidQuoteEvent("bad1");
    const answer = track(h.service.publish(TENANT, [env]));
    const call = await h.log.call(1);
    await flushMicrotasks();
    expect(answer.settled).toBe(false);

    call.ack();
    const [result] = await answer.promise;
    expect(result).toMatchObject({ id: "bad1", code: ResultCode.INVALID, errorCode: "WEIR_ERR_INVALID_PAYLOAD" });
    expect(result!.reason).toContain("bid must not be above ask");

    expect(h.log.records).toHaveLength(1);
    const record = h.log.records[0]!;
    expect(record.topic).toBe(DLQ_TOPIC);
    expect(record.key).toBe("bad1");
    expect(record.headers).toMatchObject({ [headers.id]: "bad1", [headers.tenant]: TENANT, [headers.errorCode]: "WEIR_ERR_INVALID_PAYLOAD" });
    const deadLetter = fromBinary(DeadLetterSchema, record.value);
    expect(deadLetter.errorCode).toBe("WEIR_ERR_INVALID_PAYLOAD");
    expect(deadLetter.reason).toBe(result!.reason);
    expect(deadLetter.tenant).toBe(TENANT);
    expect(deadLetter.gatewayId).toBe("gw-test");
    expect(deadLetter.event && equals(EnvelopeSchema, deadLetter.event, env)).toBe(true);
    // Refused events take no idempotency key.
    expect(h.dedup.commands).toEqual([]);
    expect(h.dedup.state(key("bad1"))).toBeUndefined();
  });

  it.each([
    ["unknown type", "WEIR_ERR_UNKNOWN_TYPE", ResultCode.UNKNOWN_TYPE],
    ["other tenant", "WEIR_ERR_TENANT_MISMATCH", ResultCode.UNAUTHORIZED],
  ] as const)("dead-letters an event refused for %s with %s", async (_, errorCode, code) => {
    const h = ingestHarness();
    const env = quoteEvent("e1");
    if (errorCode === "WEIR_ERR_UNKNOWN_TYPE") env.type = "weir.events.v1.Nope";
    else env.tenant = "globex";
    const [result] = await h.service.publish(TENANT, [env]);
    expect(result).toMatchObject({ code, errorCode });
    expect(h.log.records.map((r) => r.topic)).toEqual([DLQ_TOPIC]);
    expect(fromBinary(DeadLetterSchema, h.log.records[0]!.value).errorCode).toBe(errorCode);
  });

  it("answers RETRY_AFTER, not INVALID, when the dead-letter publish fails", async () => {
    const h = ingestHarness();
    h.log.rejectAll(new Error("dead-letter topic unavailable"));
    const [result] = await h.service.publish(TENANT, [invalidQuoteEvent("bad1")]);
    expect(result).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_KAFKA_UNAVAILABLE", retryAfterMs: 250 });
    expect(h.log.records).toEqual([]);
  });
});

describe("IngestService: duplicates", () => {
  it("answers a second publish of a published id DUPLICATE and publishes nothing again", async () => {
    const h = ingestHarness();
    const [first] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(first!.code).toBe(ResultCode.ACK);
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));

    const [second] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(second).toMatchObject({ id: "q1", code: ResultCode.DUPLICATE, errorCode: "" });
    expect(h.log.calls).toHaveLength(1);
    expect(h.log.records).toHaveLength(1);
  });

  it("deduplicates ids per tenant: the same id from another tenant is published", async () => {
    const h = ingestHarness();
    await h.service.publish(TENANT, [quoteEvent("shared")]);
    await until(() => expect(h.dedup.state(key("shared"))).toBe("done"));
    const [other] = await h.service.publish("globex", [quoteEvent("shared")]);
    expect(other!.code).toBe(ResultCode.ACK);
    expect(h.log.records.map((r) => r.headers[headers.tenant])).toEqual([TENANT, "globex"]);
  });

  // A repeated id within one batch is published once: the repeat of a published first occurrence
  // is its DUPLICATE (one ACK per id), otherwise it shares the first occurrence's fate.
  it("publishes an id repeated within a batch once: the first occurrence is acked, its repeats are DUPLICATE", async () => {
    const h = ingestHarness();
    const results = await h.service.publish(TENANT, [quoteEvent("a"), quoteEvent("b"), quoteEvent("a"), quoteEvent("a")]);
    expect(results.map((r) => [r.id, r.code])).toEqual([
      ["a", ResultCode.ACK],
      ["b", ResultCode.ACK],
      ["a", ResultCode.DUPLICATE],
      ["a", ResultCode.DUPLICATE],
    ]);
    expect(h.log.records.map((r) => r.headers[headers.id])).toEqual(["a", "b"]);
  });

  it("answers the repeat of an acked id DUPLICATE even when the repeat alone would be refused", async () => {
    const h = ingestHarness();
    const results = await h.service.publish(TENANT, [quoteEvent("a"), invalidQuoteEvent("a")]);
    expect(codes(results)).toEqual([ResultCode.ACK, ResultCode.DUPLICATE]);
    expect(h.log.records.map((r) => r.topic)).toEqual([QUOTE_TOPIC]);
  });

  it("answers the repeat of an already-published id DUPLICATE, like its first occurrence", async () => {
    const h = ingestHarness();
    h.dedup.seed(key("a"), "done");
    const results = await h.service.publish(TENANT, [quoteEvent("a"), quoteEvent("a")]);
    expect(codes(results)).toEqual([ResultCode.DUPLICATE, ResultCode.DUPLICATE]);
    expect(h.log.calls).toHaveLength(0);
  });

  it("gives the repeat of an id that must be retried the same RETRY_AFTER result", async () => {
    const h = ingestHarness();
    h.log.rejectAll(new Error("leader not available"));
    const results = await h.service.publish(TENANT, [quoteEvent("a"), quoteEvent("a")]);
    expect(results.map((r) => [r.id, r.code, r.errorCode, r.reason])).toEqual([
      ["a", ResultCode.RETRY_AFTER, "WEIR_ERR_KAFKA_UNAVAILABLE", results[0]!.reason],
      ["a", ResultCode.RETRY_AFTER, "WEIR_ERR_KAFKA_UNAVAILABLE", results[0]!.reason],
    ]);
    expect(h.log.calls[0]!.records).toHaveLength(1);
  });

  it("gives a repeated invalid id the same INVALID result, with one dead letter", async () => {
    const h = ingestHarness();
    const results = await h.service.publish(TENANT, [invalidQuoteEvent("x"), invalidQuoteEvent("x")]);
    expect(results.map((r) => [r.id, r.code, r.errorCode])).toEqual([
      ["x", ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD"],
      ["x", ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD"],
    ]);
    expect(h.log.recordsOf(DLQ_TOPIC)).toHaveLength(1);
  });

  it("publishes an id sent in two concurrent batches once: the later batch gets WEIR_ERR_IN_PROGRESS", async () => {
    const h = ingestHarness();
    h.log.holdAll();
    const first = h.service.publish(TENANT, [quoteEvent("q1")]);
    const call = await h.log.call(1);
    const [second] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(second).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_IN_PROGRESS" });

    call.ack();
    const [acked] = await first;
    expect(acked!.code).toBe(ResultCode.ACK);
    expect(h.log.calls).toHaveLength(1);
    expect(h.log.records).toHaveLength(1);
  });

  it("answers RETRY_AFTER WEIR_ERR_IN_PROGRESS for an id another attempt has claimed", async () => {
    const h = ingestHarness();
    h.dedup.seed(key("q1"), { token: "other-gateway/7" });
    const [result] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(result).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_IN_PROGRESS", retryAfterMs: 250 });
    expect(h.log.calls).toHaveLength(0);
    // Another attempt's claim is left alone.
    expect(h.dedup.tokenOf(key("q1"))).toBe("other-gateway/7");
  });
});

describe("IngestService: dedup store failures", () => {
  it("answers RETRY_AFTER WEIR_ERR_DEDUP_UNAVAILABLE and publishes nothing while the store is unhealthy", async () => {
    const h = ingestHarness();
    h.dedup.healthy = false;
    const results = await h.service.publish(TENANT, [quoteEvent("q1"), quoteEvent("q2")]);
    for (const r of results) {
      expect(r).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_DEDUP_UNAVAILABLE", retryAfterMs: 250 });
    }
    expect(results[0]!.reason).toContain("not connected");
    expect(h.log.calls).toHaveLength(0);
    expect(h.dedup.commands).toEqual([]);
  });

  it("answers RETRY_AFTER WEIR_ERR_DEDUP_UNAVAILABLE and publishes nothing when a claim throws, then publishes once it recovers", async () => {
    const h = ingestHarness();
    h.dedup.failWith(new Error("Connection is closed."));
    const [failed] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(failed).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_DEDUP_UNAVAILABLE" });
    expect(failed!.reason).toContain("claim failed");
    expect(h.log.calls).toHaveLength(0);
    expect(h.errors.map((e) => e.what)).toEqual(["dedup claim failed"]);

    h.dedup.recover();
    const [retried] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retried!.code).toBe(ResultCode.ACK);
    expect(h.log.records).toHaveLength(1);
  });

  it("acks a published event even when marking it published fails, reports the failure and confirms once the store answers", async () => {
    const h = ingestHarness();
    h.dedup.failWith(new Error("READONLY"), "confirm");
    const [result] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(result!.code).toBe(ResultCode.ACK);
    expect(h.log.records).toHaveLength(1);
    await until(() => expect(h.errors[0]?.what).toBe("dedup confirm failed (retried)"));
    // The claim stays pending meanwhile: a retry is told to wait rather than publish again.
    expect(h.dedup.state(key("q1"))).toBe("pending");
    const [retry] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retry!.errorCode).toBe("WEIR_ERR_IN_PROGRESS");
    // The store answers again: the confirm is retried, and a retry of the event is DUPLICATE.
    h.dedup.recover();
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));
    const [again] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(again!.code).toBe(ResultCode.DUPLICATE);
    expect(h.log.records).toHaveLength(1);
    h.service.close();
  });

  it("retries a release that failed until the store answers, so a retry of the event publishes without waiting for the pending TTL", async () => {
    const h = ingestHarness();
    h.log.rejectAll();
    h.dedup.failWith(new Error("Connection is closed."), "release");
    const [failed] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(failed!.errorCode).toBe("WEIR_ERR_KAFKA_UNAVAILABLE");
    expect(h.errors.map((e) => e.what)).toEqual(["publish failed", "dedup release failed (retried)"]);
    expect(h.dedup.state(key("q1"))).toBe("pending");
    const [blocked] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(blocked!.errorCode).toBe("WEIR_ERR_IN_PROGRESS");

    h.log.ackAll();
    h.dedup.recover();
    await until(() => expect(h.dedup.state(key("q1"))).toBeUndefined());
    expect(h.service.abandonedClaims.released).toBe(1);
    const [retried] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retried!.code).toBe(ResultCode.ACK);
    expect(h.log.records).toHaveLength(1);
    h.service.close();
  });

  it("still dead-letters invalid events of a batch whose valid events cannot be claimed", async () => {
    const h = ingestHarness();
    h.dedup.healthy = false;
    const results = await h.service.publish(TENANT, [quoteEvent("q1"), invalidQuoteEvent("bad")]);
    expect(results.map((r) => [r.code, r.errorCode])).toEqual([
      [ResultCode.RETRY_AFTER, "WEIR_ERR_DEDUP_UNAVAILABLE"],
      [ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD"],
    ]);
    expect(h.log.records.map((r) => r.topic)).toEqual([DLQ_TOPIC]);
  });
});

describe("IngestService: event log failures", () => {
  it("answers RETRY_AFTER WEIR_ERR_KAFKA_UNAVAILABLE when the publish rejects, releasing the claim so a retry publishes exactly once", async () => {
    const h = ingestHarness();
    h.log.rejectAll(new Error("leader not available"));
    const [failed] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(failed).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_KAFKA_UNAVAILABLE", retryAfterMs: 250 });
    expect(failed!.reason).toContain("leader not available");
    expect(h.dedup.state(key("q1"))).toBeUndefined();
    expect(h.log.records).toEqual([]);
    expect(h.errors.map((e) => e.what)).toEqual(["publish failed"]);

    h.log.ackAll();
    const [retried] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retried!.code).toBe(ResultCode.ACK);
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));
    const [again] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(again!.code).toBe(ResultCode.DUPLICATE);
    expect(h.log.records).toHaveLength(1);
  });

  it("answers RETRY_AFTER WEIR_ERR_KAFKA_UNAVAILABLE without claiming or publishing while the log is unhealthy", async () => {
    const h = ingestHarness();
    h.log.healthy = false;
    const results = await h.service.publish(TENANT, [quoteEvent("q1"), invalidQuoteEvent("bad")]);
    for (const r of results) expect(r).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_KAFKA_UNAVAILABLE" });
    expect(results[0]!.reason).toContain("stalled");
    expect(h.log.calls).toHaveLength(0);
    expect(h.dedup.commands).toEqual([]);
    expect(h.admission.inFlightEvents).toBe(0);
  });

  it("refuses at once while the gateway's probe finds the brokers unreachable, though no send has stalled yet", async () => {
    // Found by the Kafka client tests: batches admitted in the moment after a broker died, before
    // the stall breaker opened, waited the whole publish timeout (60 s) in librdkafka.
    let reachable = false;
    const h = ingestHarness({ kafkaReachable: () => reachable });
    const [refused] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(refused).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_KAFKA_UNAVAILABLE" });
    expect(refused!.reason).toContain("unreachable");
    expect(h.log.calls).toHaveLength(0);
    expect(h.dedup.commands).toEqual([]);
    reachable = true;
    const [acked] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(acked!.code).toBe(ResultCode.ACK);
  });
});

describe("IngestService: a failed publish that may have written (verified in Kafka before its claims go)", () => {
  it("confirms the claims of a failed publish whose records Kafka has after all: the retry is DUPLICATE, one record", async () => {
    vi.useFakeTimers();
    const h = ingestHarness({ withLookup: true });
    h.log.rejectAll(new Error("Local: Fatal error"), { written: true });
    const [failed] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(failed!.errorCode).toBe("WEIR_ERR_KAFKA_UNAVAILABLE");
    h.log.ackAll();
    // Not released: a retry now must not publish again.
    const [early] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(early!.errorCode).toBe("WEIR_ERR_IN_PROGRESS");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.lookup.calls).toHaveLength(1);
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));
    const [retry] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retry!.code).toBe(ResultCode.DUPLICATE);
    expect(h.log.recordsOf(QUOTE_TOPIC)).toHaveLength(1);
  });

  it("releases the claims of a failed publish Kafka does not have once it has looked: the retry publishes once", async () => {
    vi.useFakeTimers();
    const h = ingestHarness({ withLookup: true });
    h.log.rejectAll(new Error("Local: Message timed out"));
    await h.service.publish(TENANT, [quoteEvent("q1")]);
    h.log.ackAll();
    await vi.advanceTimersByTimeAsync(1_000);
    await until(() => expect(h.dedup.state(key("q1"))).toBeUndefined());
    const [retry] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retry!.code).toBe(ResultCode.ACK);
    expect(h.log.recordsOf(QUOTE_TOPIC)).toHaveLength(1);
  });

  it("looks again every second while Kafka cannot tell (a broker restarting); the claim is held meanwhile", async () => {
    vi.useFakeTimers();
    const h = ingestHarness({ withLookup: true });
    h.log.rejectAll(new Error("Local: Fatal error"), { written: true });
    h.lookup.failWith();
    await h.service.publish(TENANT, [quoteEvent("q1")]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.lookup.calls).toHaveLength(30);
    expect(h.dedup.state(key("q1"))).toBe("pending");
    // Kafka is back: settled at the next look, a second later at most.
    h.lookup.recover();
    await vi.advanceTimersByTimeAsync(1_000);
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));
  });

  it("releases at once when the publish never reached a Kafka client (NotPublishedError)", async () => {
    const h = ingestHarness({ withLookup: true });
    h.log.rejectAll(new NotPublishedError("event log closed"));
    await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(h.dedup.state(key("q1"))).toBeUndefined();
    expect(h.lookup.calls).toHaveLength(0);
  });
});

describe("IngestService: stale claims (a gateway died before confirming)", () => {
  const EVENT_TIME = 1_700_000_000_000;
  const DEAD = "gw-dead";

  /** Counts what the service reports about stale claims and dedup hits. */
  function recordingObserver() {
    const stale: Partial<Record<StaleOutcome, number>> = {};
    const lookups = { keys: 0, hits: 0 };
    const observer: IngestObserver = {
      batch: () => {},
      publish: () => {},
      dedup: () => {},
      dedupLookups: (keys, hits) => {
        lookups.keys += keys;
        lookups.hits += hits;
      },
      staleClaims: (outcome, count) => void (stale[outcome] = (stale[outcome] ?? 0) + count),
    };
    return { observer, stale, lookups };
  }

  /** A harness where gateway DEAD claimed `ids` and died; `published` of them reached Kafka first. */
  function afterCrash(ids: string[], published: string[]) {
    const rec = recordingObserver();
    const h = ingestHarness({ withLookup: true, observer: rec.observer });
    for (const id of published) h.log.records.push(eventRecord(QUOTE_TOPIC, TENANT, quoteEvent(id, { eventTimeMs: EVENT_TIME })));
    for (const id of ids) h.dedup.seed(key(id), { token: `${DEAD}/7`, ageMs: 1000 });
    h.dedup.ownerDied(DEAD);
    return { h, ...rec };
  }

  it("answers DUPLICATE and confirms the id, publishing nothing, when the dead gateway's record is in Kafka", async () => {
    const { h, stale, lookups } = afterCrash(["q1"], ["q1"]);
    const [result] = await h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME })]);
    expect(result).toMatchObject({ id: "q1", code: ResultCode.DUPLICATE, errorCode: "" });
    expect(h.lookup.calls).toEqual([[{ topic: QUOTE_TOPIC, tenant: TENANT, id: "q1", timestampMs: EVENT_TIME }]]);
    expect(h.log.calls).toHaveLength(0);
    expect(h.log.records).toHaveLength(1);
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));
    expect(h.dedup.commands.map((c) => c.op)).toEqual(["claim", "confirm"]);
    expect(stale).toEqual({ found: 1 });
    expect(lookups).toEqual({ keys: 1, hits: 1 });
    expect(h.service.stats.duplicate).toBe(1);
  });

  it("takes over and publishes once, after the batch's freshly claimed events, when the record is not in Kafka", async () => {
    const { h, stale } = afterCrash(["q1"], []);
    const results = await h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME }), quoteEvent("q2")]);
    expect(codes(results)).toEqual([ResultCode.ACK, ResultCode.ACK]);
    // The fresh claim went out at once; the taken-over one in a second publish, once verified.
    expect(h.log.calls.map((c) => c.records.map((r) => r.headers[headers.id]))).toEqual([["q2"], ["q1"]]);
    // The take-over used this batch's token, so this attempt confirms (or releases) it like its own claims.
    const claim = h.dedup.commands.find((c) => c.op === "claim")!;
    expect(h.dedup.commands.find((c) => c.op === "takeOver")).toMatchObject({ keys: [key("q1")], token: claim.token });
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));
    expect(stale).toEqual({ republished: 1 });

    const [again] = await h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME })]);
    expect(again!.code).toBe(ResultCode.DUPLICATE);
    expect(h.log.records.filter((r) => r.headers[headers.id] === "q1")).toHaveLength(1);
  });

  it("sorts a batch's stale claims: found ones DUPLICATE, missing ones republished, in one lookup", async () => {
    const { h, stale, lookups } = afterCrash(["a", "b", "c"], ["b"]);
    const results = await h.service.publish(
      TENANT,
      ["a", "b", "c"].map((id) => quoteEvent(id, { eventTimeMs: EVENT_TIME })),
    );
    expect(codes(results)).toEqual([ResultCode.ACK, ResultCode.DUPLICATE, ResultCode.ACK]);
    expect(h.lookup.calls).toHaveLength(1);
    expect(h.log.calls[0]!.records.map((r) => r.headers[headers.id])).toEqual(["a", "c"]);
    expect(stale).toEqual({ found: 1, republished: 2 });
    expect(lookups).toEqual({ keys: 3, hits: 1 });
    await until(() => expect(["a", "b", "c"].map((id) => h.dedup.state(key(id)))).toEqual(["done", "done", "done"]));
  });

  it("publishes a batch's fresh claims and dead letters without waiting for the lookup of its stale ones", async () => {
    const { h, stale, lookups } = afterCrash(["s-found", "s-missing"], ["s-found"]);
    h.lookup.pause();
    const batch = [
      quoteEvent("f1"),
      quoteEvent("s-found", { eventTimeMs: EVENT_TIME }),
      invalidQuoteEvent("bad"),
      quoteEvent("s-missing", { eventTimeMs: EVENT_TIME }),
      quoteEvent("f2"),
    ];
    const answer = track(h.service.publish(TENANT, batch));
    await until(() => expect(h.lookup.calls).toHaveLength(1));
    // The lookup still hangs, and the fresh events and the dead letter are already in Kafka, confirmed.
    await until(() => expect(h.dedup.state(key("f2"))).toBe("done"));
    expect(h.log.calls).toHaveLength(1);
    expect(h.log.records.slice(1).map((r) => [r.topic, r.headers[headers.id]])).toEqual([
      [QUOTE_TOPIC, "f1"],
      [QUOTE_TOPIC, "f2"],
      [DLQ_TOPIC, "bad"],
    ]);
    expect(h.dedup.state(key("f1"))).toBe("done");
    expect(h.lookup.calls[0]!.map((q) => q.id)).toEqual(["s-found", "s-missing"]);
    await flushMicrotasks();
    // The client's answer waits for the stale claims too.
    expect(answer.settled).toBe(false);

    h.lookup.resume();
    const results = await answer.promise;
    expect(results.map((r) => [r.id, r.code])).toEqual([
      ["f1", ResultCode.ACK],
      ["s-found", ResultCode.DUPLICATE],
      ["bad", ResultCode.INVALID],
      ["s-missing", ResultCode.ACK],
      ["f2", ResultCode.ACK],
    ]);
    // Only the event not found was published again, in a second publish.
    expect(h.log.calls.map((c) => c.records.map((r) => r.headers[headers.id]))).toEqual([["f1", "f2", "bad"], ["s-missing"]]);
    expect(h.log.records.filter((r) => r.headers[headers.id] === "s-found")).toHaveLength(1);
    await until(() => expect(["f1", "s-found", "s-missing", "f2"].map((id) => h.dedup.state(key(id)))).toEqual(["done", "done", "done", "done"]));
    expect(stale).toEqual({ found: 1, republished: 1 });
    expect(lookups).toEqual({ keys: 4, hits: 1 });
  });

  it("starts the second publish right after the take-over, which stamps the claim with a fresh time", async () => {
    vi.useFakeTimers();
    const { h } = afterCrash(["q1"], []);
    h.lookup.pause();
    const answer = track(h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME }), quoteEvent("q2")]));
    await until(() => expect(h.log.records.map((r) => r.headers[headers.id])).toEqual(["q2"]));
    h.log.holdAll();
    // A lookup as long as the publish timeout.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(answer.settled).toBe(false);
    h.lookup.resume();
    const second = await h.log.call(2);
    expect(second.records.map((r) => r.headers[headers.id])).toEqual(["q1"]);
    // The taken-over claim is as young as the second publish: the lookup's minute does not count
    // towards the pending TTL (the dead gateway's claim time would leave 59 s).
    const seen = await h.dedup.claim([key("q1")], "gw-probe/1");
    expect(seen[0]).toEqual({ kind: "pending", retryAfterMs: 120_000 });
    second.ack();
    expect(codes(await answer.promise)).toEqual([ResultCode.ACK, ResultCode.ACK]);
  });

  it("answers the fresh events of a batch whose lookup fails, and only the stale ones RETRY_AFTER", async () => {
    const { h } = afterCrash(["s1"], []);
    h.lookup.failWith(new Error("would scan 900000 records"));
    const results = await h.service.publish(TENANT, [quoteEvent("s1", { eventTimeMs: EVENT_TIME }), quoteEvent("f1")]);
    expect(results.map((r) => [r.code, r.errorCode])).toEqual([
      [ResultCode.RETRY_AFTER, "WEIR_ERR_IN_PROGRESS"],
      [ResultCode.ACK, ""],
    ]);
    expect(h.log.calls.map((c) => c.records.map((r) => r.headers[headers.id]))).toEqual([["f1"]]);
    expect(h.dedup.tokenOf(key("s1"))).toBe(`${DEAD}/7`);
  });

  it("verifies a live gateway's claim once it is older than the pending TTL", async () => {
    const h = ingestHarness({ withLookup: true });
    h.dedup.seed(key("young"), { token: "gw-live/1", ageMs: 119_000 });
    h.dedup.seed(key("old"), { token: "gw-live/1", ageMs: 120_000 });
    const results = await h.service.publish(TENANT, [quoteEvent("young"), quoteEvent("old")]);
    expect(results.map((r) => [r.code, r.errorCode])).toEqual([
      [ResultCode.RETRY_AFTER, "WEIR_ERR_IN_PROGRESS"],
      [ResultCode.ACK, ""],
    ]);
    expect(h.lookup.calls.map((c) => c.map((q) => q.id))).toEqual([["old"]]);
    expect(h.dedup.tokenOf(key("young"))).toBe("gw-live/1");
  });

  it("does not look anything up for claims of live gateways younger than the pending TTL", async () => {
    const h = ingestHarness({ withLookup: true });
    h.dedup.seed(key("q1"), { token: "gw-live/1" });
    const [result] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(result).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_IN_PROGRESS" });
    expect(h.lookup.calls).toHaveLength(0);
    expect(h.dedup.commands.map((c) => c.op)).toEqual(["claim"]);
  });

  it("answers IN_PROGRESS and publishes nothing when another gateway takes the claim over first", async () => {
    const { h, stale } = afterCrash(["q1"], []);
    h.lookup.pause();
    const answer = h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME })]);
    await until(() => expect(h.lookup.calls).toHaveLength(1));
    // Meanwhile another gateway saw the same stale claim, verified it and won the compare-and-swap.
    const seen = await h.dedup.claim([key("q1")], "gw-other/1");
    expect(seen[0]!.kind).toBe("stale");
    expect(await h.dedup.takeOver([key("q1")], [(seen[0] as { value: string }).value], "gw-other/1")).toEqual([true]);
    h.lookup.resume();

    const [result] = await answer;
    expect(result).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_IN_PROGRESS" });
    expect(h.log.calls).toHaveLength(0);
    expect(h.dedup.tokenOf(key("q1"))).toBe("gw-other/1");
    expect(stale).toEqual({ lost: 1 });
  });

  it("answers RETRY_AFTER, publishing nothing and leaving the claim, when the lookup fails", async () => {
    const { h, stale } = afterCrash(["q1"], []);
    h.lookup.failWith(new Error("would scan 900000 records"));
    const [result] = await h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME })]);
    expect(result).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_IN_PROGRESS", retryAfterMs: 250 });
    expect(h.log.calls).toHaveLength(0);
    expect(h.dedup.commands.map((c) => c.op)).toEqual(["claim"]);
    expect(h.dedup.tokenOf(key("q1"))).toBe(`${DEAD}/7`);
    expect(h.errors.map((e) => e.what)).toEqual(["verifying stale claims in Kafka failed"]);
    expect(stale).toEqual({ failed: 1 });
  });

  it("answers RETRY_AFTER WEIR_ERR_DEDUP_UNAVAILABLE when the take-over fails", async () => {
    const { h } = afterCrash(["q1"], []);
    h.dedup.failWith(new Error("Connection is closed."), "takeOver");
    const [result] = await h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME })]);
    expect(result).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_DEDUP_UNAVAILABLE" });
    expect(h.log.calls).toHaveLength(0);
    expect(h.errors.map((e) => e.what)).toEqual(["dedup take-over failed"]);
  });

  it("releases a taken-over claim when its publish fails without writing, so the next retry publishes", async () => {
    const { h } = afterCrash(["q1"], []);
    h.log.rejectAll(new NotPublishedError("producer not connected"));
    const [failed] = await h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME })]);
    expect(failed!.errorCode).toBe("WEIR_ERR_KAFKA_UNAVAILABLE");
    expect(h.dedup.state(key("q1"))).toBeUndefined();

    h.log.ackAll();
    const [retried] = await h.service.publish(TENANT, [quoteEvent("q1", { eventTimeMs: EVENT_TIME })]);
    expect(retried!.code).toBe(ResultCode.ACK);
    expect(h.log.records).toHaveLength(1);
    expect(h.lookup.calls).toHaveLength(1);
  });

  it("without a lookup, answers a dead gateway's claim IN_PROGRESS and publishes nothing", async () => {
    const h = ingestHarness();
    h.dedup.seed(key("q1"), { token: `${DEAD}/7` });
    h.dedup.ownerDied(DEAD);
    const [result] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(result).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_IN_PROGRESS" });
    expect(h.log.calls).toHaveLength(0);
  });
});

describe("IngestService: publish timeout", () => {
  async function timedOutPublish() {
    vi.useFakeTimers();
    const h = ingestHarness({ opts: { publishTimeoutMs: 5_000 } });
    h.log.holdAll();
    const answer = h.service.publish(TENANT, [quoteEvent("q1")]);
    const hung = await h.log.call(1);
    await vi.advanceTimersByTimeAsync(4_999);
    await flushMicrotasks();
    const early = track(answer);
    await flushMicrotasks();
    expect(early.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const [result] = await answer;
    return { h, hung, result: result! };
  }

  it("answers RETRY_AFTER WEIR_ERR_KAFKA_UNAVAILABLE once publishTimeoutMs passes, keeping the claim and the admission", async () => {
    const { h, result } = await timedOutPublish();
    expect(result).toMatchObject({ id: "q1", code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_KAFKA_UNAVAILABLE", retryAfterMs: 250 });
    expect(result.reason).toContain("no ack within 5000 ms");
    expect(h.dedup.state(key("q1"))).toBe("pending");
    expect(h.admission.inFlightEvents).toBe(1);
  });

  it("answers a retry WEIR_ERR_IN_PROGRESS while the timed-out publish still hangs", async () => {
    const { h } = await timedOutPublish();
    const [retry] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retry).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_IN_PROGRESS" });
    expect(h.log.calls).toHaveLength(1);
  });

  it("answers a retry DUPLICATE once the timed-out publish finally succeeds: exactly one record", async () => {
    const { h, hung } = await timedOutPublish();
    const [during] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(during!.errorCode).toBe("WEIR_ERR_IN_PROGRESS");

    hung.ack();
    await until(() => expect(h.dedup.state(key("q1"))).toBe("done"));
    await until(() => expect(h.admission.inFlightEvents).toBe(0));
    expect(h.admission.inFlightBytes).toBe(0);

    const [after] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(after!.code).toBe(ResultCode.DUPLICATE);
    expect(h.log.calls).toHaveLength(1);
    expect(h.log.records).toHaveLength(1);
  });

  it("publishes a retry once the timed-out publish finally fails: exactly one record", async () => {
    const { h, hung } = await timedOutPublish();
    hung.fail(new Error("request timed out"));
    await until(() => expect(h.dedup.state(key("q1"))).toBeUndefined());
    await until(() => expect(h.admission.inFlightEvents).toBe(0));

    h.log.ackAll();
    const [retry] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retry!.code).toBe(ResultCode.ACK);
    expect(h.log.calls).toHaveLength(2);
    expect(h.log.records).toHaveLength(1);
    expect(h.log.records[0]!.headers[headers.id]).toBe("q1");
  });
});

describe("IngestService: admission", () => {
  it("answers every event RETRY_AFTER WEIR_ERR_OVERLOADED, publishing nothing, when a batch does not fit the event bound", async () => {
    const h = ingestHarness({ maxInFlightEvents: 2 });
    const results = await h.service.publish(TENANT, [quoteEvent("a"), quoteEvent("b"), invalidQuoteEvent("c")]);
    for (const r of results) expect(r).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_OVERLOADED", retryAfterMs: 250 });
    expect(h.log.calls).toHaveLength(0);
    expect(h.dedup.commands).toEqual([]);
    expect(h.admission.inFlightEvents).toBe(0);
  });

  it("answers WEIR_ERR_OVERLOADED while other batches hold the admission, and admits again once they are answered", async () => {
    const h = ingestHarness({ maxInFlightEvents: 2 });
    h.log.holdAll();
    const first = h.service.publish(TENANT, [quoteEvent("a"), quoteEvent("b")]);
    const call = await h.log.call(1);
    expect(h.admission.inFlightEvents).toBe(2);

    const [refused] = await h.service.publish(TENANT, [quoteEvent("c")]);
    expect(refused!.errorCode).toBe("WEIR_ERR_OVERLOADED");
    expect(h.log.calls).toHaveLength(1);

    call.ack();
    await first;
    await until(() => expect(h.admission.inFlightEvents).toBe(0));
    h.log.ackAll();
    const [admitted] = await h.service.publish(TENANT, [quoteEvent("c")]);
    expect(admitted!.code).toBe(ResultCode.ACK);
  });

  it("answers WEIR_ERR_OVERLOADED when a batch does not fit the byte bound", async () => {
    const env = quoteEvent("big");
    const h = ingestHarness({ maxInFlightBytes: env.payload.byteLength - 1 });
    const [result] = await h.service.publish(TENANT, [env]);
    expect(result!.errorCode).toBe("WEIR_ERR_OVERLOADED");
    expect(h.log.calls).toHaveLength(0);
  });

  const arrangements: Array<[string, (h: Harness) => void]> = [
    ["an ack", () => {}],
    ["a dead letter", () => {}],
    ["a duplicate", (h) => h.dedup.seed(key("e1"), "done")],
    ["a claim in progress", (h) => h.dedup.seed(key("e1"), { token: "other/1" })],
    ["an unhealthy dedup store", (h) => void (h.dedup.healthy = false)],
    ["a failing dedup store", (h) => void h.dedup.failWith()],
    ["a rejected publish", (h) => void h.log.rejectAll()],
  ];
  it.each(arrangements)("releases the admission after %s", async (what, arrange) => {
    const h = ingestHarness();
    arrange(h);
    const env = what === "a dead letter" ? invalidQuoteEvent("e1") : quoteEvent("e1");
    const results = await h.service.publish(TENANT, [env]);
    expect(results).toHaveLength(1);
    await until(() => expect(h.admission.inFlightEvents).toBe(0));
    expect(h.admission.inFlightBytes).toBe(0);
  });
});

describe("IngestService: drain", () => {
  it("answers every event RETRY_AFTER WEIR_ERR_DRAINING after drain(), publishing nothing", async () => {
    const h = ingestHarness();
    h.service.drain();
    const results = await h.service.publish(TENANT, [quoteEvent("q1"), invalidQuoteEvent("bad")]);
    for (const r of results) expect(r).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_DRAINING", retryAfterMs: 250 });
    expect(h.log.calls).toHaveLength(0);
    expect(h.dedup.commands).toEqual([]);
    expect(h.admission.inFlightEvents).toBe(0);
  });
});
