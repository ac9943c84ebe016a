/**
 * k6 load test of Weir's subscription path (fan-out): each VU opens a WebSocket to /v1/subscribe,
 * says Hello, subscribes to one stream and counts what it is delivered until the scenario's
 * duration is over, checking that every frame and every delivery decodes. Run it while events
 * flow (e.g. load/k6/ingest.js, whose events carry their send time as event_time): every VU
 * should receive every event of its tenant on the stream.
 *
 *   k6 run -e WEIR_URL=ws://127.0.0.1:8080/v1/subscribe -e WEIR_VUS=200 -e WEIR_DURATION=1m load/k6/subscribe.js
 *
 * If the gateway drops a VU's connection (a slow subscriber closed with 4409, a restart), the VU's
 * next iteration subscribes again from the last resume token it received (its last delivery's,
 * or the start position Subscribed carries): no gap, no repeat.
 *
 * Plain k6 JavaScript: no npm imports, no TextEncoder, no BigInt. The Protobuf codec is bundled
 * in ./lib/proto.js. load/README.md lists the environment variables and metrics.
 *
 * Metrics:
 *   weir_deliveries               Counter, deliveries received.
 *   weir_delivery_batches         Counter, DeliveryBatch frames received.
 *   weir_delivery_latency         Trend, ms from the record's timestamp (the event's event_time)
 *                                 to its arrival at the VU, one sample per delivery. With
 *                                 publishers that stamp event_time with the send time (ingest.js
 *                                 does) on the same clock, this is the end-to-end latency.
 *   weir_delivery_gateway_latency Trend, ms from the gateway reading the record from Kafka
 *                                 (read_at_ms) to its arrival at the VU: the fan-out and network
 *                                 part alone (the gateway's clock against the VU's).
 *   weir_subscribe_time           Trend, ms from opening the socket to Subscribed.
 *   weir_resumes                  Counter, subscriptions resumed from a token after a drop.
 *   weir_errors                   Rate, one sample per delivery (true = it did not decode) plus one
 *                                 true sample per frame that did not decode and per connection
 *                                 that ended abnormally.
 */
import { WebSocket } from "k6/experimental/websockets";
import { clearTimeout, setTimeout } from "k6/timers";
import { Counter, Rate, Trend } from "k6/metrics";
import { check } from "k6";
import exec from "k6/execution";
import { durationEnv, intEnv, parseDurationMs } from "./lib/env.js";
import { HTTP_ACCESS_LOG_TYPE, decodeHttpAccessLog, decodeServerFrame, decodeUtf8, encodeClientFrame, toArrayBuffer } from "./lib/proto.js";

const GATEWAY_URL = __ENV.WEIR_URL || "ws://127.0.0.1:8080/v1/subscribe";
const TENANT = __ENV.WEIR_TENANT || "demo";
const API_KEY = __ENV.WEIR_API_KEY || "demo-key";
/** "events.<type>", "results.<job>" or "alerts". */
const STREAM = __ENV.WEIR_STREAM || "events." + HTTP_ACCESS_LOG_TYPE;
const KEY = __ENV.WEIR_KEY || "";
const KEY_PREFIX = __ENV.WEIR_KEY_PREFIX || "";
/** "latest" (default), "earliest", or epoch milliseconds. */
const FROM = startEnv("WEIR_FROM");
const VUS = intEnv("WEIR_VUS", 10);
const DURATION = durationEnv("WEIR_DURATION", "30s");
const LATENCY_P99_MS = intEnv("WEIR_LATENCY_P99_MS", 250);
/** Resume from the last token after a dropped connection ("false": start from WEIR_FROM again). */
const RESUME = __ENV.WEIR_RESUME !== "false";

export const options = {
  scenarios: {
    subscribe: {
      executor: "constant-vus",
      vus: VUS,
      duration: DURATION,
      gracefulStop: "10s",
    },
  },
  thresholds: {
    weir_delivery_latency: ["p(99)<" + LATENCY_P99_MS],
    weir_errors: ["rate<0.01"],
    // A run that received nothing measured nothing: fail it.
    weir_deliveries: ["count>0"],
  },
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
};

const deliveries = new Counter("weir_deliveries");
const batches = new Counter("weir_delivery_batches");
const latency = new Trend("weir_delivery_latency", true);
const gatewayLatency = new Trend("weir_delivery_gateway_latency", true);
const subscribeTime = new Trend("weir_subscribe_time", true);
const resumes = new Counter("weir_resumes");
const errors = new Rate("weir_errors");

const RAW_PREFIX = "application/x-protobuf; messageType=";

/**
 * Where this VU's subscription stands: the token of its last delivery, or of its start (from
 * Subscribed) before the first one. Module state: per VU, across iterations.
 */
let resumeToken = "";
let warnings = 0;

export default function () {
  const deadline = exec.scenario.startTime + parseDurationMs(DURATION);
  if (Date.now() >= deadline) return;
  const vu = __VU;
  const openedAt = Date.now();
  let subscribed = false;
  let stopping = false;
  let protocolError = null;
  let stopTimer = null;

  const ws = new WebSocket(GATEWAY_URL);
  ws.binaryType = "arraybuffer";
  const stop = () => {
    stopTimer = null;
    stopping = true;
    ws.close(1000);
  };
  stopTimer = setTimeout(stop, Math.max(0, deadline - Date.now()));

  ws.onopen = () => {
    ws.send(toArrayBuffer(encodeClientFrame({ case: "hello", value: { protocolVersion: 1, tenant: TENANT, apiKey: API_KEY, clientId: "k6-sub-vu" + vu } })));
    let start = FROM;
    if (RESUME && resumeToken) {
      start = { case: "resumeToken", value: resumeToken };
      resumes.add(1);
    }
    ws.send(toArrayBuffer(encodeClientFrame({ case: "subscribe", value: { stream: STREAM, key: KEY, keyPrefix: KEY_PREFIX, start: start } })));
  };

  ws.onmessage = (e) => {
    const now = Date.now();
    let frame;
    try {
      frame = decodeServerFrame(new Uint8Array(e.data));
    } catch (err) {
      errors.add(true);
      check(false, { "frame decodes": (ok) => ok });
      warn("VU " + vu + ": undecodable frame: " + err);
      return;
    }
    switch (frame.case) {
      case "welcome":
        break;
      case "subscribed":
        subscribed = true;
        subscribeTime.add(now - openedAt);
        check(frame.value, { "subscribed to the stream asked for": (s) => s.stream === STREAM });
        // Where the subscription starts: a VU dropped before its first delivery resumes from here.
        if (frame.value.resumeToken) resumeToken = frame.value.resumeToken;
        break;
      case "deliveries": {
        batches.add(1);
        const list = frame.value.deliveries;
        let bad = 0;
        for (let i = 0; i < list.length; i++) {
          const d = list[i];
          const ok = decodes(d);
          errors.add(!ok);
          if (!ok) bad++;
          latency.add(now - d.timestampMs);
          if (d.readAtMs > 0) gatewayLatency.add(Math.max(0, now - d.readAtMs));
        }
        deliveries.add(list.length);
        check(bad, { "deliveries decode": (n) => n === 0 });
        if (list.length > 0 && list[list.length - 1].resumeToken) resumeToken = list[list.length - 1].resumeToken;
        break;
      }
      case "error":
        protocolError = frame.value;
        break;
      // Other frames (a newer gateway may add some) are ignored.
    }
  };

  ws.onerror = (e) => {
    warn("VU " + vu + ": WebSocket error: " + (e && e.error ? e.error : "unknown"));
  };

  ws.onclose = (e) => {
    if (stopTimer !== null) clearTimeout(stopTimer);
    check(subscribed, { "Subscribed received": (s) => s === true });
    check(stopping, { "subscription ended by the VU": (s) => s === true });
    if (stopping) return;
    errors.add(true);
    const code = e && e.code !== undefined ? e.code : "?";
    warn("VU " + vu + ": connection closed (" + code + (protocolError ? " " + protocolError.errorCode + ": " + protocolError.message : "") + ")");
    // Bad credentials, an unknown stream, a bad or expired token, another protocol version: a
    // reconnect will not help.
    if (code === 4401 || code === 4404 || code === 4410 || code === 4422 || code === 4426) {
      exec.test.abort("the gateway refused the subscription (" + code + (protocolError ? " " + protocolError.errorCode : "") + ")");
    }
    // The next iteration resumes; do not hammer a gateway that drops us.
    setTimeout(() => {}, Math.min(1000, Math.max(0, deadline - Date.now())));
  };
}

/** Whether a delivery is well-formed: a resume token, a time, and a value its content type can be read as. */
function decodes(d) {
  if (!d.resumeToken || !(d.timestampMs > 0)) return false;
  try {
    if (d.contentType === RAW_PREFIX + HTTP_ACCESS_LOG_TYPE) {
      const log = decodeHttpAccessLog(d.value);
      return log.host.length > 0 && log.status >= 100 && log.status <= 599;
    }
    if (d.contentType === "application/json") {
      JSON.parse(decodeUtf8(d.value));
      return true;
    }
    // Raw events of another type: the codec does not know their payload.
    return d.contentType.indexOf(RAW_PREFIX) === 0 && d.value.length > 0;
  } catch (err) {
    warn("delivery " + d.resumeToken + " does not decode: " + err);
    return false;
  }
}

/** WEIR_FROM: latest (default), earliest, or epoch milliseconds, as a Subscribe start. */
function startEnv(name) {
  const v = __ENV[name];
  if (v === undefined || v === "" || v === "latest") return { case: undefined };
  if (v === "earliest") return { case: "fromEarliest", value: true };
  if (/^\d+$/.test(v)) return { case: "fromTimestampMs", value: parseInt(v, 10) };
  throw new Error(name + " must be latest, earliest or epoch milliseconds, got " + v);
}

function warn(msg) {
  if (warnings++ < 20) console.warn(msg);
  else if (warnings === 21) console.warn("(further warnings of this VU suppressed)");
}
