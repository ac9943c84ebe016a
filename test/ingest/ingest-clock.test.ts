import { describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ResultCode } from "../../src/gen/weir/v1/protocol_pb.js";
import { DeadLetterSchema } from "../../src/gen/weir/v1/dead_letter_pb.js";
import { Admission } from "../../src/ingest/admission.js";
import { EventChecker } from "../../src/ingest/check-event.js";
import { IngestService } from "../../src/ingest/ingest-service.js";
import type { IngestObserver } from "../../src/ingest/ports.js";
import { FakeClock, FakeDedupStore, FakeEventLog } from "../unit-fixtures/fake-ports.js";
import { DLQ_TOPIC, builtinRegistry, invalidQuoteEvent, quoteEvent, sharedChecker } from "../unit-fixtures/events.js";

const TENANT = "acme";

/** The service on fake ports and a fake clock, with what it reports to metrics. */
function clockedService() {
  const clock = new FakeClock();
  const log = new FakeEventLog();
  const dedup = new FakeDedupStore();
  const seconds: { batch: number[]; publish: number[]; claim: number[]; confirm: number[] } = { batch: [], publish: [], claim: [], confirm: [] };
  const observer: IngestObserver = {
    batch: (_, s) => void seconds.batch.push(s),
    publish: (_, s) => void seconds.publish.push(s),
    dedup: (op, s) => void (op === "claim" || op === "confirm" ? seconds[op].push(s) : undefined),
    dedupLookups: () => {},
  };
  const service = new IngestService(
    { log, dedup, admission: new Admission(1000, 1024 * 1024), checker: sharedChecker(1024), clock, observer },
    { gatewayId: "gw-test", deadLetterTopic: DLQ_TOPIC, retryAfterMs: 250, publishTimeoutMs: 5_000 },
  );
  return { clock, log, dedup, service, seconds };
}

describe("IngestService: one injected clock", () => {
  it("measures a batch, its claim and its publish on the clock's monotonic time, whatever the wall clock does", async () => {
    const { clock, log, dedup, service, seconds } = clockedService();
    log.holdAll();
    dedup.pause();
    const answer = service.publish(TENANT, [quoteEvent("q1")]);
    clock.advance(3);
    dedup.resume();
    const call = await log.call(1);
    clock.advance(40);
    // An NTP step back an hour while the publish is in flight.
    clock.setWall(clock.wallMs() - 3600_000);
    call.ack();
    const [result] = await answer;
    expect(result!.code).toBe(ResultCode.ACK);
    expect(seconds.claim).toEqual([0.003]);
    expect(seconds.publish).toEqual([0.04]);
    expect(seconds.batch).toEqual([0.043]);
    expect(service.latency.percentiles(0.5)).toEqual([43]);
  });

  it("stamps a dead letter with the clock's wall time at receipt", async () => {
    const { clock, log, service } = clockedService();
    clock.setWall(1_800_000_000_123);
    await service.publish(TENANT, [invalidQuoteEvent("bad")]);
    const deadLetter = fromBinary(DeadLetterSchema, log.recordsOf(DLQ_TOPIC)[0]!.value);
    expect(timestampMs(deadLetter.receivedAt!)).toBe(1_800_000_000_123);
  });

  it("lets the checker compare event times with the same clock's wall time", () => {
    const clock = new FakeClock(1_700_000_000_000);
    const checker = new EventChecker(builtinRegistry(), 1024, 60_000, clock);
    const soon = quoteEvent("e1", { eventTimeMs: 1_700_000_030_000 });
    expect(checker.check(soon, TENANT).ok).toBe(true);
    clock.setWall(1_699_999_000_000);
    const refused = checker.check(soon, TENANT);
    expect(refused.ok ? undefined : refused.error.message).toContain("event_time: must not be more than 60000 ms in the future");
  });
});
