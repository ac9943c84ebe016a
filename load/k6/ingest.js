/**
 * k6 load test of Weir's ingest path: each VU opens a WebSocket to /v1/ingest, says Hello, waits
 * for Welcome, then streams PublishBatch frames of weir.events.v1.HttpAccessLog events, never
 * more in flight than the credit the gateway granted, until the scenario's duration is over. It
 * then stops sending new events, waits for the outstanding results (re-sending RETRY_AFTER
 * events with the same ids), and closes.
 *
 *   k6 run -e WEIR_URL=ws://127.0.0.1:8080/v1/ingest -e WEIR_VUS=10 -e WEIR_DURATION=30s load/k6/ingest.js
 *
 * Plain k6 JavaScript: no npm imports, no TextEncoder, no BigInt. The Protobuf codec is bundled
 * in ./lib/proto.js. load/README.md lists the environment variables and metrics.
 *
 * Metrics:
 *   weir_ack_latency      Trend, ms from sending a PublishBatch to receiving its PublishResult:
 *                         ONE SAMPLE PER BATCH (every event of a batch shares that time).
 *   weir_events_acked     Counter, events answered ACK (Kafka has them).
 *   weir_events_duplicate Counter, events answered DUPLICATE (already published earlier).
 *   weir_events_retry     Counter, RETRY_AFTER answers (each is re-sent with the same id).
 *   weir_events_failed    Counter, events with a final error result (INVALID, UNKNOWN_TYPE, ...)
 *                         or lost with a connection / given up at the end of the drain.
 *   weir_errors           Rate, one sample per event outcome (true = failed) plus one true sample
 *                         per connection that ended abnormally.
 */
import { WebSocket } from "k6/experimental/websockets";
import { clearInterval, clearTimeout, setInterval, setTimeout } from "k6/timers";
import { Counter, Rate, Trend } from "k6/metrics";
import { check } from "k6";
import exec from "k6/execution";
import { durationEnv, intEnv, parseDurationMs } from "./lib/env.js";
import {
  HTTP_ACCESS_LOG_TYPE,
  ResultCode,
  decodeServerFrame,
  encodeClientFrame,
  encodeEnvelope,
  encodeHttpAccessLog,
  encodePublishFrame,
  resultCodeName,
  timestampFromMs,
  toArrayBuffer,
} from "./lib/proto.js";

const GATEWAY_URL = __ENV.WEIR_URL || "ws://127.0.0.1:8080/v1/ingest";
const TENANT = __ENV.WEIR_TENANT || "demo";
const API_KEY = __ENV.WEIR_API_KEY || "demo-key";
const VUS = intEnv("WEIR_VUS", 2);
const DURATION = durationEnv("WEIR_DURATION", "30s");
/** Events per PublishBatch (capped by the Welcome's max_batch_events and credit). */
const BATCH = intEnv("WEIR_BATCH", 50);
/** PublishBatch frames one connection keeps in flight (the credit caps the events). */
const IN_FLIGHT = intEnv("WEIR_IN_FLIGHT", 2);
/**
 * Target events per second per VU; 0 (the default) sends as fast as IN_FLIGHT and the credit
 * allow (closed loop). With a rate, new events leave every TICK_MS; when the in-flight bound
 * holds them back, the rate is not reached (see weir_events_acked's rate).
 */
const RATE = intEnv("WEIR_RATE", 0, true);
const TICK_MS = 10;
/** After the duration, how long a VU waits for outstanding results before giving up on them. */
const DRAIN_MS = intEnv("WEIR_DRAIN_MS", 10000);
/** Prefix of event ids; ids are `${RUN_ID}-${__VU}-${__ITER}-${n}`. */
const RUN_ID = __ENV.WEIR_RUN_ID || Date.now().toString(36);

export const options = {
  scenarios: {
    ingest: {
      executor: "constant-vus",
      vus: VUS,
      duration: DURATION,
      gracefulStop: Math.ceil(DRAIN_MS / 1000) + 5 + "s",
    },
  },
  thresholds: {
    weir_ack_latency: ["p(99)<50"],
    weir_errors: ["rate<0.01"],
  },
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
};

const ackLatency = new Trend("weir_ack_latency", true);
const eventsAcked = new Counter("weir_events_acked");
const eventsDuplicate = new Counter("weir_events_duplicate");
const eventsRetry = new Counter("weir_events_retry");
const eventsFailed = new Counter("weir_events_failed");
const errors = new Rate("weir_errors");

const HOSTS = ["web-1", "web-2", "web-3", "api-1", "api-2"];
const PATHS = ["/", "/login", "/cart", "/api/orders", "/api/search", "/static/app.js"];
const METHODS = ["GET", "GET", "GET", "POST", "PUT"];
const OK_STATUS = [200, 200, 200, 201, 204, 301, 304, 404];
const ERROR_STATUS = [500, 502, 503, 504];

let warnings = 0;

export default function () {
  const deadline = exec.scenario.startTime + parseDurationMs(DURATION);
  if (Date.now() >= deadline) return;

  const vu = __VU;
  const iter = __ITER;
  let next = 0;
  let seq = 0;
  let credit = 0;
  let batchSize = 1;
  let welcomed = false;
  let stopping = false;
  let closed = false;
  let protocolError = null;
  /** seq → {sentAt, events: [{id, bytes}]} */
  const pending = new Map();
  /** RETRY_AFTER events due for re-sending. */
  let retryReady = [];
  /** RETRY_AFTER events waiting for their delay. */
  let retryWaiting = 0;
  const retryTimers = new Set();
  let stopTimer = null;
  let drainTimer = null;
  let ticker = null;
  let tokens = 0;
  let lastRefill = 0;

  const ws = new WebSocket(GATEWAY_URL);
  ws.binaryType = "arraybuffer";

  const newEvent = () => {
    const id = RUN_ID + "-" + vu + "-" + iter + "-" + next++;
    const host = pick(HOSTS);
    const status = Math.random() < 0.05 ? pick(ERROR_STATUS) : pick(OK_STATUS);
    const payload = encodeHttpAccessLog({
      host: host,
      method: pick(METHODS),
      path: pick(PATHS),
      status: status,
      bytesSent: 200 + Math.floor(Math.random() * 50000),
      latencyMs: 1 + Math.floor(Math.random() * (status >= 500 ? 3000 : 300)),
      clientIp: "10." + rnd(256) + "." + rnd(256) + "." + (1 + rnd(254)),
      userAgent: "k6-weir-ingest/1.0",
    });
    const bytes = encodeEnvelope({
      id: id,
      type: HTTP_ACCESS_LOG_TYPE,
      eventTime: timestampFromMs(Date.now()),
      partitionKey: host,
      payload: payload,
    });
    return { id: id, bytes: bytes };
  };

  const outstanding = () => {
    let n = retryReady.length + retryWaiting;
    for (const p of pending.values()) n += p.events.length;
    return n;
  };

  const finishIfDrained = () => {
    if (stopping && !closed && pending.size === 0 && retryReady.length === 0 && retryWaiting === 0) {
      closed = true;
      ws.close(1000);
    }
  };

  /**
   * Sends batches while credit and the in-flight bound allow: due retries first, then new
   * events (unlimited without WEIR_RATE; with it, the tokens earned since the last tick).
   */
  const pump = () => {
    while (!closed && welcomed && credit > 0 && pending.size < IN_FLIGHT) {
      const n = Math.min(batchSize, credit);
      const events = retryReady.length > 0 ? retryReady.splice(0, n) : [];
      let fresh = stopping ? 0 : n - events.length;
      if (RATE > 0) fresh = Math.min(fresh, Math.floor(tokens));
      for (let i = 0; i < fresh; i++) events.push(newEvent());
      if (RATE > 0) tokens -= fresh;
      if (events.length === 0) break;
      seq++;
      const frame = encodePublishFrame(
        seq,
        events.map((e) => e.bytes),
      );
      credit -= events.length;
      pending.set(seq, { sentAt: Date.now(), events: events });
      ws.send(toArrayBuffer(frame));
    }
    finishIfDrained();
  };

  const tick = () => {
    const now = Date.now();
    // Earned tokens are capped, so a stall is not followed by a burst beyond the in-flight bound.
    tokens = Math.min(tokens + ((now - lastRefill) * RATE) / 1000, Math.max(batchSize * IN_FLIGHT, 1));
    lastRefill = now;
    pump();
  };

  const stop = () => {
    stopping = true;
    if (ticker !== null) {
      clearInterval(ticker);
      ticker = null;
    }
    finishIfDrained();
    if (!closed) {
      drainTimer = setTimeout(() => {
        drainTimer = null;
        const lost = outstanding();
        if (lost > 0) {
          warn("VU " + vu + ": gave up on " + lost + " events without a final result after " + DRAIN_MS + " ms");
          fail(lost);
        }
        pending.clear();
        retryReady = [];
        retryWaiting = 0;
        closed = true;
        ws.close(1000);
      }, DRAIN_MS);
    }
  };

  const fail = (n) => {
    eventsFailed.add(n);
    for (let i = 0; i < n; i++) errors.add(true);
  };

  const onResult = (r) => {
    const p = pending.get(r.seq);
    credit += r.credit;
    if (!p) {
      warn("VU " + vu + ": PublishResult for unknown seq " + r.seq);
      return;
    }
    pending.delete(r.seq);
    ackLatency.add(Date.now() - p.sentAt);
    let acked = 0;
    let duplicate = 0;
    let failed = 0;
    let retry = [];
    let retryAfter = 0;
    for (let i = 0; i < p.events.length; i++) {
      const res = r.results[i];
      const code = res ? res.code : ResultCode.UNSPECIFIED;
      if (code === ResultCode.ACK) {
        acked++;
        errors.add(false);
      } else if (code === ResultCode.DUPLICATE) {
        duplicate++;
        errors.add(false);
      } else if (code === ResultCode.RETRY_AFTER) {
        retry.push(p.events[i]);
        retryAfter = Math.max(retryAfter, res.retryAfterMs);
      } else {
        failed++;
        warn("event " + p.events[i].id + ": " + resultCodeName(code) + " " + (res ? res.errorCode + " " + res.reason : "(no result)"));
      }
    }
    if (acked) eventsAcked.add(acked);
    if (duplicate) eventsDuplicate.add(duplicate);
    if (failed) fail(failed);
    if (retry.length) {
      eventsRetry.add(retry.length);
      retryWaiting += retry.length;
      const t = setTimeout(
        () => {
          retryTimers.delete(t);
          retryWaiting -= retry.length;
          retryReady = retryReady.concat(retry);
          pump();
        },
        Math.max(10, retryAfter) * (0.5 + Math.random()),
      );
      retryTimers.add(t);
    }
    pump();
  };

  ws.onopen = () => {
    ws.send(
      toArrayBuffer(
        encodeClientFrame({
          case: "hello",
          value: { protocolVersion: 1, tenant: TENANT, apiKey: API_KEY, clientId: "k6-vu" + vu },
        }),
      ),
    );
  };

  ws.onmessage = (e) => {
    const frame = decodeServerFrame(new Uint8Array(e.data));
    switch (frame.case) {
      case "welcome":
        welcomed = true;
        credit = frame.value.credit;
        batchSize = Math.max(1, Math.min(BATCH, frame.value.maxBatchEvents || BATCH, frame.value.credit));
        stopTimer = setTimeout(stop, Math.max(0, deadline - Date.now()));
        if (RATE > 0) {
          lastRefill = Date.now();
          ticker = setInterval(tick, TICK_MS);
        }
        pump();
        break;
      case "result":
        onResult(frame.value);
        break;
      case "credit":
        credit += frame.value.credit;
        pump();
        break;
      case "error":
        protocolError = frame.value;
        break;
    }
  };

  ws.onerror = (e) => {
    warn("VU " + vu + ": WebSocket error: " + (e && e.error ? e.error : "unknown"));
  };

  ws.onclose = (e) => {
    const cleanly = stopping && pending.size === 0 && retryReady.length === 0 && retryWaiting === 0;
    check(welcomed, { "Welcome received": (w) => w === true });
    check(cleanly, { "session ended cleanly": (c) => c === true });
    closed = true;
    if (stopTimer !== null) clearTimeout(stopTimer);
    if (drainTimer !== null) clearTimeout(drainTimer);
    if (ticker !== null) clearInterval(ticker);
    for (const t of retryTimers) clearTimeout(t);
    retryTimers.clear();
    if (!cleanly) {
      const lost = outstanding();
      errors.add(true); // the connection itself
      if (lost > 0) fail(lost);
      const code = e && e.code !== undefined ? e.code : "?";
      warn(
        "VU " +
          vu +
          ": connection closed (" +
          code +
          (protocolError ? " " + protocolError.errorCode + ": " + protocolError.message : "") +
          ")" +
          (lost ? ", " + lost + " events without a result" : ""),
      );
      pending.clear();
      retryReady = [];
      retryWaiting = 0;
      // A wrong tenant/API key or protocol version will not get better by reconnecting.
      if (code === 4401 || code === 4426)
        exec.test.abort("the gateway refused the connection (" + code + (protocolError ? " " + protocolError.errorCode : "") + ")");
      // Do not hammer a gateway that refuses us: the next iteration starts after a pause.
      setTimeout(() => {}, Math.min(1000, Math.max(0, deadline - Date.now())));
    }
  };
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function rnd(n) {
  return Math.floor(Math.random() * n);
}

function warn(msg) {
  // Enough to see what goes wrong, not a flood at thousands of events per second.
  if (warnings++ < 20) console.warn(msg);
  else if (warnings === 21) console.warn("(further warnings of this VU suppressed)");
}
