import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  accessLogLine,
  accessLogRecord,
  errorRateDefaults,
  errorRateJob,
  isServerError,
  type AccessLogLine,
  type ErrorRateCounts,
} from "../../../src/engine/jobs/error-rate.js";
import { EngineTestDriver, type OutputRecord } from "../../../src/engine/testing/index.js";
import { tumbling, windowedAggregateStores, type WindowedOutput } from "../../../src/engine/windows/index.js";
import { HttpAccessLogSchema } from "../../../src/gen/weir/events/v1/access_log_pb.js";

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
/** Event time at minute `m`, second `s` after T0. */
const t = (m: number, s: number) => T0 + m * 60_000 + s * 1_000;
const API = "api.example.com";
const WEB = "web.example.com";

type Out = OutputRecord<WindowedOutput<AccessLogLine, ErrorRateCounts>>;

function counts(kind: "final" | "update", host: string, minute: number, errors: number, requests: number): Out {
  const windowStartMs = t(minute, 0);
  const windowEndMs = t(minute + 1, 0);
  return {
    stream: "results",
    key: host,
    value: { kind, key: host, windowStartMs, windowEndMs, result: { errors, requests } },
    timestampMs: windowEndMs - 1,
  };
}

function driver() {
  return new EngineTestDriver((stores) => errorRateJob(windowedAggregateStores(stores)));
}

function line(d: ReturnType<typeof driver>, host: string, status: number, timestampMs: number): Out[] {
  d.pipeRecords([accessLogRecord({ host, status }, timestampMs)]);
  return d.readOutput();
}

describe("error-rate job: 5xx per host per minute", () => {
  it("defaults: 1-minute tumbling windows, 5 s out-of-orderness, 60 s lateness, final-on-watermark", () => {
    const job = driver().operator;
    expect(errorRateDefaults).toEqual({ windowMs: 60_000, maxOutOfOrdernessMs: 5_000, allowedLatenessMs: 60_000, emit: "final" });
    expect(job.options.window).toEqual(tumbling(60_000));
    expect(job.options).toMatchObject({ maxOutOfOrdernessMs: 5_000, allowedLatenessMs: 60_000, emit: "final" });
  });

  it("counts out-of-order lines across two hosts and two minutes exactly", () => {
    const d = driver();
    expect(line(d, API, 200, t(0, 2))).toEqual([]);
    expect(line(d, API, 503, t(0, 5))).toEqual([]);
    expect(line(d, WEB, 500, t(0, 7))).toEqual([]);
    expect(line(d, API, 502, t(0, 4))).toEqual([]); // out of order, within 5 s
    expect(line(d, WEB, 200, t(0, 30))).toEqual([]);
    expect(line(d, API, 500, t(0, 58))).toEqual([]);
    expect(line(d, WEB, 504, t(1, 1))).toEqual([]); // watermark 0:56
    expect(line(d, API, 500, t(0, 59))).toEqual([]);
    expect(line(d, API, 200, t(1, 3))).toEqual([]); // watermark 0:58
    expect(line(d, WEB, 503, t(0, 57))).toEqual([]); // behind the watermark, minute 0 still open
    // watermark 1:01 closes minute 0
    expect(line(d, API, 500, t(1, 6))).toEqual([counts("final", API, 0, 4, 5), counts("final", WEB, 0, 2, 3)]);
    // within the 60 s lateness: corrected count
    expect(line(d, WEB, 500, t(0, 50))).toEqual([counts("update", WEB, 0, 3, 4)]);
    expect(line(d, WEB, 502, t(1, 30))).toEqual([]);
    expect(line(d, API, 200, t(1, 45))).toEqual([]);
    // watermark 2:05 closes minute 1 and expires minute 0
    expect(line(d, WEB, 200, t(2, 10))).toEqual([counts("final", API, 1, 1, 3), counts("final", WEB, 1, 2, 2)]);
    // minute 0 is past its lateness: late stream, counted
    expect(line(d, API, 500, t(0, 40))).toEqual([
      {
        stream: "late",
        key: API,
        value: { kind: "late", key: API, value: { host: API, status: 500 }, timestampMs: t(0, 40), watermarkMs: t(2, 5) },
        timestampMs: t(0, 40),
      },
    ]);
    expect(line(d, API, 503, t(1, 59))).toEqual([counts("update", API, 1, 2, 4)]);
    d.advanceWatermark(t(3, 0));
    expect(d.readOutput()).toEqual([counts("final", WEB, 2, 0, 1)]);
    expect(d.operator.lateCount).toBe(1);
    d.advanceWatermark(t(4, 0));
    expect(d.readOutput()).toEqual([]);
    expect(d.store("windows").size).toBe(0);

    // The latest result per host and minute: the 5xx counts.
    const latest = new Map<string, number>();
    for (const r of d.readAll("results")) {
      if (r.value.kind !== "late") latest.set(`${r.key} ${(r.value.windowStartMs - T0) / 60_000}`, r.value.result.errors);
    }
    expect(Object.fromEntries(latest)).toEqual({
      [`${API} 0`]: 4,
      [`${WEB} 0`]: 3,
      [`${API} 1`]: 2,
      [`${WEB} 1`]: 2,
      [`${WEB} 2`]: 0,
    });
  });

  it("maps decoded HttpAccessLog messages to plain lines keyed by host", () => {
    const log = create(HttpAccessLogSchema, { host: API, method: "GET", path: "/", status: 503, bytesSent: 12n });
    expect(accessLogLine(log)).toEqual({ host: API, status: 503 });
    expect(accessLogRecord(log, t(0, 1))).toEqual({ key: API, value: { host: API, status: 503 }, timestampMs: t(0, 1) });
  });

  it("5xx means 500 to 599", () => {
    expect([499, 500, 503, 599, 600, 200].map(isServerError)).toEqual([false, true, true, true, false, false]);
  });
});
