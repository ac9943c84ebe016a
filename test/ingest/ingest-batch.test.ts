import { describe, expect, it } from "vitest";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { EventResultSchema, ResultCode } from "../../src/gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { WeirError } from "../../src/errors.js";
import type { EventChecker } from "../../src/ingest/check-event.js";
import { IngestBatch, eventResult, type Answer, type IngestStats } from "../../src/ingest/ingest-batch.js";
import { deferred } from "../unit-fixtures/fake-ports.js";
import { QUOTE_TOPIC, invalidQuoteEvent, quoteEvent, sharedChecker } from "../unit-fixtures/events.js";

const TENANT = "acme";

function batchOf(events: Envelope[]) {
  const stats: IngestStats = { ack: 0, duplicate: 0, invalid: 0, retry: 0 };
  return { batch: new IngestBatch(TENANT, events, { stats, retryAfterMs: 250 }), stats };
}

/** The shared checker, counting which events it was asked about. */
function countingChecker(): { checker: Pick<EventChecker, "check">; checkedIds: string[] } {
  const checkedIds: string[] = [];
  const real = sharedChecker(1024);
  return {
    checkedIds,
    checker: {
      check: (env, tenant) => {
        checkedIds.push(env.id);
        return real.check(env, tenant);
      },
    },
  };
}

describe("IngestBatch: check", () => {
  it("sorts the events into those to claim (with topic and tenant:id key) and those to dead-letter", () => {
    const { batch } = batchOf([quoteEvent("a"), invalidQuoteEvent("bad"), quoteEvent("b")]);
    const { accepted, refused } = batch.check(sharedChecker(1024));
    expect(accepted.map((a) => [a.index, a.env.id, a.topic, a.key])).toEqual([
      [0, "a", QUOTE_TOPIC, `${TENANT}:a`],
      [2, "b", QUOTE_TOPIC, `${TENANT}:b`],
    ]);
    expect(refused.map((r) => [r.index, r.env.id, r.error.code])).toEqual([[1, "bad", "WEIR_ERR_INVALID_PAYLOAD"]]);
  });

  it("checks a repeated id once: its later occurrences are neither accepted, refused nor pending", () => {
    const { batch } = batchOf([quoteEvent("a"), quoteEvent("a"), invalidQuoteEvent("a")]);
    const { checker, checkedIds } = countingChecker();
    const { accepted, refused } = batch.check(checker);
    expect(checkedIds).toEqual(["a"]);
    expect(accepted.map((a) => a.index)).toEqual([0]);
    expect(refused).toEqual([]);
    expect(batch.pending()).toEqual([0]);
  });

  it("never takes events without an id for repeats of each other", () => {
    const { batch } = batchOf([quoteEvent(""), quoteEvent("")]);
    const { refused } = batch.check(sharedChecker(1024));
    expect(refused.map((r) => [r.index, r.error.code])).toEqual([
      [0, "WEIR_ERR_INVALID_ENVELOPE"],
      [1, "WEIR_ERR_INVALID_ENVELOPE"],
    ]);
    expect(batch.pending()).toEqual([0, 1]);
  });

  it("refuses to check a batch twice", () => {
    const { batch } = batchOf([quoteEvent("a")]);
    batch.check(sharedChecker(1024));
    expect(() => batch.check(sharedChecker(1024))).toThrow(/already checked/);
  });
});

describe("IngestBatch: answers", () => {
  it("answers each event with its id, in batch order, counting each outcome once", () => {
    const { batch, stats } = batchOf([quoteEvent("a"), quoteEvent("b"), invalidQuoteEvent("c"), quoteEvent("d")]);
    batch.retry(3, new WeirError("WEIR_ERR_IN_PROGRESS"));
    batch.refuse(2, new WeirError("WEIR_ERR_INVALID_PAYLOAD", "weir.events.v1.Quote", "bid must not be above ask"));
    batch.duplicate(1);
    batch.ack(0);
    const results = batch.results();
    expect(results.map((r) => [r.id, r.code, r.errorCode, r.retryAfterMs])).toEqual([
      ["a", ResultCode.ACK, "", 0],
      ["b", ResultCode.DUPLICATE, "", 0],
      ["c", ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD", 0],
      ["d", ResultCode.RETRY_AFTER, "WEIR_ERR_IN_PROGRESS", 250],
    ]);
    expect(results[2]!.reason).toBe("invalid weir.events.v1.Quote payload: bid must not be above ask");
    expect(stats).toEqual({ ack: 1, duplicate: 1, invalid: 1, retry: 1 });
  });

  it("refuses to answer an event twice, keeping its first answer and count", () => {
    const { batch, stats } = batchOf([quoteEvent("a")]);
    batch.ack(0);
    expect(() => batch.retry(0, new WeirError("WEIR_ERR_KAFKA_UNAVAILABLE", "late"))).toThrow(/event 0 of the batch is already answered/);
    expect(() => batch.ack(0)).toThrow(/already answered/);
    expect(batch.results().map((r) => r.code)).toEqual([ResultCode.ACK]);
    expect(stats).toEqual({ ack: 1, duplicate: 0, invalid: 0, retry: 0 });
  });

  it("refuses to answer the repeat of an id on its own", () => {
    const { batch } = batchOf([quoteEvent("a"), quoteEvent("a")]);
    batch.check(sharedChecker(1024));
    expect(() => batch.duplicate(1)).toThrow(/repeats an id/);
  });

  it("refuses an index outside the batch", () => {
    const { batch } = batchOf([quoteEvent("a")]);
    expect(() => batch.ack(1)).toThrow(RangeError);
    expect(() => batch.ack(-1)).toThrow(RangeError);
  });

  it("lists the events still unanswered, and will not close while any is", () => {
    const { batch } = batchOf([quoteEvent("a"), quoteEvent("b"), quoteEvent("c")]);
    batch.ack(1);
    expect(batch.pending()).toEqual([0, 2]);
    expect(() => batch.results()).toThrow(/events 0, 2 of the batch are not answered/);
    batch.retryAll(new WeirError("WEIR_ERR_OVERLOADED"));
    expect(batch.pending()).toEqual([]);
    expect(batch.results().map((r) => r.code)).toEqual([ResultCode.RETRY_AFTER, ResultCode.ACK, ResultCode.RETRY_AFTER]);
  });

  it("is closed once its results are read: reading again gives the same answers, answering throws", () => {
    const { batch, stats } = batchOf([quoteEvent("a"), quoteEvent("a")]);
    batch.check(sharedChecker(1024));
    batch.ack(0);
    const first = batch.results();
    expect(batch.results()).toBe(first);
    expect(stats).toEqual({ ack: 1, duplicate: 1, invalid: 0, retry: 0 });
    expect(() => batch.retryAll(new WeirError("WEIR_ERR_DRAINING"))).not.toThrow(); // nothing left to answer
    expect(() => batch.ack(0)).toThrow(/already answered/);
  });
});

describe("IngestBatch: repeated ids", () => {
  it.each([
    ["acked", (b: IngestBatch) => b.ack(0)],
    ["a duplicate", (b: IngestBatch) => b.duplicate(0)],
  ] as const)("answers the repeats of a first occurrence %s DUPLICATE, counted as duplicates", (_, answerFirst) => {
    const { batch, stats } = batchOf([quoteEvent("a"), quoteEvent("b"), quoteEvent("a"), quoteEvent("a")]);
    batch.check(sharedChecker(1024));
    answerFirst(batch);
    batch.ack(1);
    const results = batch.results();
    expect(results.map((r) => [r.id, r.code])).toEqual([
      ["a", results[0]!.code],
      ["b", ResultCode.ACK],
      ["a", ResultCode.DUPLICATE],
      ["a", ResultCode.DUPLICATE],
    ]);
    expect(stats.duplicate).toBe(results[0]!.code === ResultCode.DUPLICATE ? 3 : 2);
  });

  it("gives the repeats of an unpublished first occurrence the same answer, without counting it again", () => {
    const { batch, stats } = batchOf([invalidQuoteEvent("x"), quoteEvent("y"), invalidQuoteEvent("x"), quoteEvent("y")]);
    const { refused, accepted } = batch.check(sharedChecker(1024));
    batch.refuse(refused[0]!.index, refused[0]!.error);
    batch.retry(accepted[0]!.index, new WeirError("WEIR_ERR_KAFKA_UNAVAILABLE", "leader not available"));
    const results = batch.results();
    expect(results.map((r) => [r.id, r.code, r.errorCode, r.reason])).toEqual([
      ["x", ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD", results[0]!.reason],
      ["y", ResultCode.RETRY_AFTER, "WEIR_ERR_KAFKA_UNAVAILABLE", "Kafka unavailable: leader not available"],
      ["x", ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD", results[0]!.reason],
      ["y", ResultCode.RETRY_AFTER, "WEIR_ERR_KAFKA_UNAVAILABLE", "Kafka unavailable: leader not available"],
    ]);
    expect(results[3]!.retryAfterMs).toBe(250);
    expect(stats).toEqual({ ack: 0, duplicate: 0, invalid: 1, retry: 1 });
  });
});

describe("IngestBatch: settling", () => {
  it("is settled at once when Kafka holds nothing for it", async () => {
    const { batch } = batchOf([quoteEvent("a")]);
    await expect(batch.settled()).resolves.toBeUndefined();
  });

  it("is settled once everything Kafka still holds for it settled, even a failure", async () => {
    const { batch } = batchOf([quoteEvent("a"), quoteEvent("b")]);
    const first = deferred();
    const second = deferred();
    batch.settlesWith(first.promise);
    batch.settlesWith(second.promise);
    let settled = false;
    const done = batch.settled().then(() => (settled = true));
    first.resolve();
    await first.promise;
    await Promise.resolve();
    expect(settled).toBe(false);
    second.reject(new Error("delivery timed out"));
    await done;
    expect(settled).toBe(true);
  });
});

describe("eventResult", () => {
  it.each<Answer>([
    { code: ResultCode.ACK },
    { code: ResultCode.DUPLICATE },
    { code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_OVERLOADED", reason: "busy", retryAfterMs: 250 },
    { code: ResultCode.INVALID, errorCode: "WEIR_ERR_INVALID_PAYLOAD", reason: "status: must be ≥ 100" },
  ])("is the message create() makes, field for field and on the wire (%o)", (answer) => {
    const made = create(EventResultSchema, { ...answer, id: "e-1" });
    const plain = eventResult("e-1", answer);
    expect(plain).toStrictEqual(made);
    expect(equals(EventResultSchema, plain, made)).toBe(true);
    expect(toBinary(EventResultSchema, plain)).toEqual(toBinary(EventResultSchema, made));
  });
});
