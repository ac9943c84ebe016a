/**
 * One load-generator thread: `connections` WebSockets to a gateway (or a raw receiver), driven in
 * one of three modes for `durationMs`:
 *   closed  each connection keeps `window` events in flight; resend on every result (max rate)
 *   paced   each connection sends a frame every interval; latency counts from the scheduled time,
 *           so a stalled gateway is not hidden (no coordinated omission)
 *   blast   no protocol: frames as fast as the socket drains (raw receive rate)
 */
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";
import { fromBinary } from "@bufbuild/protobuf";
import { ResultCode, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { frameFactory } from "./frames.js";
import { helloFrame, openHelloSocket } from "./hello-socket.js";
import { threadTask } from "./thread-task.js";

export type WorkerJob = {
  url: string;
  mode: "closed" | "paced" | "blast";
  connections: number;
  eventsPerFrame: number;
  /** closed: events in flight per connection (capped by the granted credit). */
  window: number;
  /** paced: events/s per connection. */
  ratePerConnection: number;
  durationMs: number;
  /** The first part of durationMs warms the gateway up (JIT, connections, metadata): not counted. */
  warmupMs: number;
  idPrefix: string;
  tenant: string;
  apiKey: string;
};

export type WorkerReport = {
  framesSent: number;
  eventsSent: number;
  acked: number;
  duplicate: number;
  retried: number;
  failed: number;
  closedEarly: number;
  /** One sample per answered frame, ms. */
  latencies: number[];
};

const job = workerData as WorkerJob;
const report: WorkerReport = { framesSent: 0, eventsSent: 0, acked: 0, duplicate: 0, retried: 0, failed: 0, closedEarly: 0, latencies: [] };
const frames = frameFactory(job.idPrefix, job.eventsPerFrame);
const hello = helloFrame(job.tenant, job.apiKey, "bench");
let counter = 0;
let stopAt = 0;
let measureFrom = 0;

function open(): Promise<{ ws: WebSocket; credit: number }> {
  return openHelloSocket(job.url, job.mode === "blast" ? undefined : hello);
}

async function runConnection(): Promise<void> {
  const { ws, credit: granted } = await open();
  if (job.mode === "blast") return blast(ws);
  let credit = granted;
  const window = Math.min(job.window, granted);
  const started = new Map<number, number>(); // first counter of a frame → send (or scheduled) time
  let waiting: (() => void) | undefined;
  let outstanding = 0;
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));

  ws.on("message", (data: Buffer) => {
    const frame = fromBinary(ServerFrameSchema, data).frame;
    if (frame.case !== "result") return;
    const now = performance.now();
    const results = frame.value.results;
    credit += frame.value.credit;
    outstanding -= results.length;
    const firstCounter = frames.counterOf(results[0]!.id);
    const t0 = started.get(firstCounter);
    started.delete(firstCounter);
    // Latency of admitted frames only: a shed frame answers fast and would flatter the figures.
    const admitted = results[0]!.code === ResultCode.ACK || results[0]!.code === ResultCode.DUPLICATE;
    if (t0 !== undefined && t0 >= measureFrom && admitted) report.latencies.push(now - t0);
    waiting?.();
    if (now < measureFrom) return;
    for (const r of results) {
      if (r.code === ResultCode.ACK) report.acked++;
      else if (r.code === ResultCode.DUPLICATE) report.duplicate++;
      else if (r.code === ResultCode.RETRY_AFTER) report.retried++;
      else report.failed++;
    }
    waiting?.();
  });
  const sendFrame = (scheduledAt: number) => {
    const first = counter;
    counter += job.eventsPerFrame;
    started.set(first, scheduledAt);
    credit -= job.eventsPerFrame;
    outstanding += job.eventsPerFrame;
    if (scheduledAt >= measureFrom) {
      report.framesSent++;
      report.eventsSent += job.eventsPerFrame;
    }
    ws.send(frames.frame(first));
  };
  const until = (cond: () => boolean) =>
    cond() ? Promise.resolve() : new Promise<void>((resolve) => (waiting = () => cond() && ((waiting = undefined), resolve())));

  if (job.mode === "closed") {
    while (performance.now() < stopAt && ws.readyState === WebSocket.OPEN) {
      await until(() => outstanding + job.eventsPerFrame <= window && credit >= job.eventsPerFrame);
      if (performance.now() >= stopAt) break;
      sendFrame(performance.now());
    }
  } else {
    const interval = (1000 * job.eventsPerFrame) / job.ratePerConnection;
    let next = performance.now() + Math.random() * interval;
    while (next < stopAt && ws.readyState === WebSocket.OPEN) {
      const delay = next - performance.now();
      if (delay > 1) await new Promise((r) => setTimeout(r, delay));
      await until(() => credit >= job.eventsPerFrame);
      sendFrame(next);
      next += interval;
    }
  }
  await Promise.race([until(() => outstanding === 0), closed]);
  if (ws.readyState !== WebSocket.OPEN) report.closedEarly++;
  ws.close();
}

async function blast(ws: WebSocket): Promise<void> {
  while (performance.now() < stopAt && ws.readyState === WebSocket.OPEN) {
    if (ws.bufferedAmount > 4 * 1024 * 1024) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    const first = counter;
    counter += job.eventsPerFrame;
    report.framesSent++;
    report.eventsSent += job.eventsPerFrame;
    ws.send(frames.frame(first));
  }
  // Let the socket drain so the receiver counts what was sent.
  while (ws.bufferedAmount > 0 && ws.readyState === WebSocket.OPEN) await new Promise((r) => setTimeout(r, 5));
  ws.close();
}

parentPort!.once(
  "message",
  threadTask(async () => {
    measureFrom = performance.now() + job.warmupMs;
    stopAt = performance.now() + job.durationMs;
    await Promise.all(Array.from({ length: job.connections }, runConnection));
    parentPort!.postMessage(report);
  }),
);
parentPort!.postMessage("ready");
