import { afterEach, describe, expect, it, vi } from "vitest";
import { equals, fromBinary } from "@bufbuild/protobuf";
import { ResultCode, type EventResult } from "../../src/gen/weir/v1/protocol_pb.js";
import { DeadLetterSchema } from "../../src/gen/weir/v1/dead_letter_pb.js";
import { EnvelopeSchema } from "../../src/gen/weir/v1/envelope_pb.js";
import { headers } from "../../src/ingest/records.js";
import { flushMicrotasks, track, until } from "../unit-fixtures/fake-ports.js";
import { DLQ_TOPIC, QUOTE_TOPIC, ingestHarness, invalidQuoteEvent, quoteEvent, type Harness } from "../unit-fixtures/events.js";

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
    const h = ingestHarness({ now: () => 1_700_000_000_123 });
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

  it("acks a published event even when marking it published fails, and reports the failure", async () => {
    const h = ingestHarness();
    h.dedup.failWith(new Error("READONLY"), "confirm");
    const [result] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(result!.code).toBe(ResultCode.ACK);
    expect(h.log.records).toHaveLength(1);
    await until(() => expect(h.errors.map((e) => e.what)).toEqual(["dedup confirm failed"]));
    // The claim stays pending: a retry is told to wait rather than publish again.
    expect(h.dedup.state(key("q1"))).toBe("pending");
    const [retry] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retry!.errorCode).toBe("WEIR_ERR_IN_PROGRESS");
    expect(h.log.records).toHaveLength(1);
  });

  it("publishes a retry once the claim left by a failed release expires", async () => {
    vi.useFakeTimers();
    const h = ingestHarness();
    h.log.rejectAll();
    h.dedup.failWith(new Error("Connection is closed."), "release");
    const [failed] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(failed!.errorCode).toBe("WEIR_ERR_KAFKA_UNAVAILABLE");
    expect(h.errors.map((e) => e.what)).toEqual(["publish failed", "dedup release failed"]);
    expect(h.dedup.state(key("q1"))).toBe("pending");

    h.log.ackAll();
    h.dedup.recover();
    const [blocked] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(blocked!.errorCode).toBe("WEIR_ERR_IN_PROGRESS");

    await vi.advanceTimersByTimeAsync(120_000); // the pending TTL
    const [retried] = await h.service.publish(TENANT, [quoteEvent("q1")]);
    expect(retried!.code).toBe(ResultCode.ACK);
    expect(h.log.records).toHaveLength(1);
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
