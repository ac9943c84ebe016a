/**
 * Subscriber thread of the subscription benchmarks: `connections` WebSockets to /v1/subscribe
 * (Hello, Subscribe from the latest), each counting what it receives. For every delivery of an
 * event sent inside the measurement window it records receive time minus send time (the send
 * time travels in the event, timed-frames.ts), split at the gateway's read_at_ms into
 * send → read from Kafka and read → received. Runs on its own thread, so the publisher's event
 * loop does not delay its receive times; the thread's own load is reported (event-loop
 * utilisation) so a saturated subscriber shows as such.
 *
 * Messages: → "ready" once every subscription is live; ← {cmd: "window", fromUs, untilUs} (wall
 * µs: deliveries of events sent in [from, until) are measured); ← {cmd: "finish", expected,
 * timeoutMs}: waits until every connection has `expected` deliveries of the window (or the
 * timeout), then → the SubscriberReport.
 */
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { ServerFrameField, scanServerFrame } from "./delivery-scan.js";
import { sendTimeUsOf, wallUs } from "./timed-frames.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { threadTask } from "./thread-task.js";

export type SubscriberJob = {
  url: string;
  tenant: string;
  apiKey: string;
  stream: string;
  connections: number;
  /** Sockets opened at a time while connecting. */
  connectConcurrency: number;
};

export type SubscriberReport = {
  connections: number;
  live: number;
  /** Connections the gateway closed (code and error) before the end. */
  closedEarly: Array<{ code: number; error: string }>;
  /** Deliveries of window events, in total and per connection (min, max). */
  delivered: number;
  minPerConnection: number;
  maxPerConnection: number;
  /** Deliveries of anything else (warm-up, after the window, not made by the benchmark). */
  outsideWindow: number;
  /** Deliveries (of any benchmark event) received while the window lasted: the delivery rate. */
  receivedInWindow: number;
  /** DeliveryBatch frames received inside the window. */
  frames: number;
  /** ms, one per window delivery: received − sent. */
  latencies: Float64Array<ArrayBuffer>;
  /** ms, one per window delivery of the first connection: gateway read (read_at_ms) − sent. */
  toRead: Float64Array<ArrayBuffer>;
  /** ms, one per window delivery: received − gateway read. */
  fromRead: Float64Array<ArrayBuffer>;
  /** Event-loop utilisation of this thread from the window's start to the last delivery awaited (0..1). */
  elu: number;
};

class Floats {
  private buf: Float64Array<ArrayBuffer> = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  take(): Float64Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}

const job = workerData as SubscriberJob;
const hello = toBinary(
  ClientFrameSchema,
  create(ClientFrameSchema, {
    frame: { case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: job.tenant, apiKey: job.apiKey, clientId: "bench-subscriber" } },
  }),
);
const subscribeFrame = toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: { case: "subscribe", value: { stream: job.stream } } }));

const latencies = new Floats();
const toRead = new Floats();
const fromRead = new Floats();
const counts = new Array<number>(job.connections).fill(0);
const closedEarly: SubscriberReport["closedEarly"] = [];
const sockets: WebSocket[] = [];
let windowFromUs = Infinity;
let windowUntilUs = -Infinity;
let live = 0;
let outsideWindow = 0;
let receivedInWindow = 0;
let frames = 0;
let finishing = false;
let onProgress: (() => void) | undefined;

function connect(index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(job.url, { perMessageDeflate: false });
    ws.binaryType = "nodebuffer";
    sockets[index] = ws;
    let error = "";
    let isLive = false;
    let recvUs = 0;
    const visit = (bytes: Uint8Array, start: number, end: number, _timestampMs: number, readAtMs: number) => {
      const sentUs = sendTimeUsOf(bytes, start, end);
      if (sentUs > 0 && recvUs >= windowFromUs && recvUs < windowUntilUs) receivedInWindow++;
      if (sentUs < windowFromUs || sentUs >= windowUntilUs) {
        outsideWindow++;
        return;
      }
      counts[index]!++;
      latencies.push((recvUs - sentUs) / 1000);
      fromRead.push((recvUs - readAtMs * 1000) / 1000);
      if (index === 0) toRead.push((readAtMs * 1000 - sentUs) / 1000);
    };
    ws.once("error", (err) => (isLive ? undefined : reject(err)));
    ws.once("open", () => {
      ws.send(hello);
      ws.send(subscribeFrame);
    });
    ws.on("message", (data: Buffer) => {
      recvUs = wallUs();
      const kind = scanServerFrame(data, visit);
      if (kind === ServerFrameField.deliveries && recvUs >= windowFromUs && recvUs < windowUntilUs) frames++;
      if (kind === ServerFrameField.subscribed) {
        isLive = true;
        live++;
        resolve();
      } else if (kind === ServerFrameField.error) {
        const frame = fromBinary(ServerFrameSchema, data).frame;
        if (frame.case === "error") error = `${frame.value.errorCode}: ${frame.value.message}`;
      }
      if (kind === ServerFrameField.deliveries) onProgress?.();
    });
    ws.once("close", (code) => {
      if (!finishing) closedEarly.push({ code, error });
      if (!isLive) reject(new Error(`subscription ${index} closed before Subscribed: ${code} ${error}`));
      onProgress?.();
    });
  });
}

async function connectAll(): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(job.connectConcurrency, job.connections) }, async () => {
      while (next < job.connections) await connect(next++);
    }),
  );
}

type Command = { cmd: "window"; fromUs: number; untilUs: number } | { cmd: "finish"; expected: number; timeoutMs: number };

async function onCommand(msg: Command): Promise<void> {
  if (msg.cmd === "window") {
    windowFromUs = msg.fromUs;
    windowUntilUs = msg.untilUs;
    // Event-loop utilisation counts from the start of the window.
    setTimeout(() => (eluAtWindowStart = performance.eventLoopUtilization()), Math.max(0, (msg.fromUs - wallUs()) / 1000));
    return;
  }
  const deadline = performance.now() + msg.timeoutMs;
  const done = () => counts.every((c, i) => c >= msg.expected || sockets[i]!.readyState !== WebSocket.OPEN);
  while (!done() && performance.now() < deadline) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - performance.now()));
      onProgress = () => {
        if (!done()) return;
        clearTimeout(t);
        resolve();
      };
    });
  }
  onProgress = undefined;
  finishing = true;
  const elu = performance.eventLoopUtilization(eluAtWindowStart);
  for (const ws of sockets) ws.close(1000);
  const report: SubscriberReport = {
    connections: job.connections,
    live,
    closedEarly,
    delivered: counts.reduce((a, b) => a + b, 0),
    minPerConnection: Math.min(...counts),
    maxPerConnection: Math.max(...counts),
    outsideWindow,
    receivedInWindow,
    frames,
    latencies: latencies.take(),
    toRead: toRead.take(),
    fromRead: fromRead.take(),
    elu: elu.utilization,
  };
  parentPort!.postMessage(report, [report.latencies.buffer, report.toRead.buffer, report.fromRead.buffer]);
}

parentPort!.on("message", threadTask(onCommand));

let eluAtWindowStart = performance.eventLoopUtilization();
await connectAll();
parentPort!.postMessage("ready");
