/**
 * Paced publisher thread of the subscription benchmarks: `connections` ingest WebSockets, each
 * sending a frame of `eventsPerFrame` events every interval, every event carrying its frame's
 * *scheduled* send time (timed-frames.ts), so the subscribers' latency counts from when the
 * event was due, not from when a stalled gateway let it go (no coordinated omission). Counts the
 * results of frames scheduled inside the measurement window: only ACKed events can be delivered.
 */
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";
import { fromBinary } from "@bufbuild/protobuf";
import { ResultCode, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { timedFrameFactory, toWallUs } from "./timed-frames.js";
import { helloFrame, openHelloSocket } from "./hello-socket.js";
import { threadTask } from "./thread-task.js";

export type PublisherJob = {
  url: string;
  connections: number;
  eventsPerFrame: number;
  /** events/s per connection */
  ratePerConnection: number;
  warmupMs: number;
  durationMs: number;
  idPrefix: string;
  tenant: string;
  apiKey: string;
  /** Keys of the events (partition keys); default: the access-log generator's five hosts. */
  hosts?: readonly string[];
};

export type PublisherReport = {
  /** Events of frames scheduled inside the window. */
  eventsSent: number;
  /** Of those: ACK (Kafka has them: every one must reach every subscriber). */
  acked: number;
  retried: number;
  failed: number;
  /** Events of any frame whose result never came (connection lost). */
  unanswered: number;
  /** Ack latency per answered frame of the window, from its scheduled time, ms. */
  ackLatencies: number[];
};

const job = workerData as PublisherJob;
const report: PublisherReport = { eventsSent: 0, acked: 0, retried: 0, failed: 0, unanswered: 0, ackLatencies: [] };
const frames = timedFrameFactory(job.idPrefix, job.eventsPerFrame, job.hosts ? { hosts: job.hosts } : {});
const hello = helloFrame(job.tenant, job.apiKey, "bench-publisher");
// Set by the second message: the wall-clock µs at which sending starts; the measurement window is
// [start + warmup, start + duration).
let startAt = 0; // in this thread's performance.now()
let measureFrom = 0;
let stopAt = 0;
let counter = 0;

function open(): Promise<{ ws: WebSocket; credit: number }> {
  return openHelloSocket(job.url, hello);
}

async function runConnection(conn: { ws: WebSocket; credit: number }): Promise<void> {
  const { ws } = conn;
  let credit = conn.credit;
  const scheduled = new Map<number, number>(); // first counter of a frame → its scheduled time
  let waiting: (() => void) | undefined;
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  ws.on("message", (data: Buffer) => {
    const frame = fromBinary(ServerFrameSchema, data).frame;
    if (frame.case !== "result") return;
    const now = performance.now();
    const results = frame.value.results;
    credit += frame.value.credit;
    const first = frames.counterOf(results[0]!.id);
    const t0 = scheduled.get(first);
    scheduled.delete(first);
    if (t0 !== undefined && t0 >= measureFrom) {
      report.ackLatencies.push(now - t0);
      for (const r of results) {
        if (r.code === ResultCode.ACK) report.acked++;
        else if (r.code === ResultCode.RETRY_AFTER) report.retried++;
        else report.failed++;
      }
    }
    waiting?.();
  });
  const until = (cond: () => boolean) =>
    cond() ? Promise.resolve() : new Promise<void>((resolve) => (waiting = () => cond() && ((waiting = undefined), resolve())));

  const interval = (1000 * job.eventsPerFrame) / job.ratePerConnection;
  let next = startAt + Math.random() * interval;
  while (next < stopAt && ws.readyState === WebSocket.OPEN) {
    const delay = next - performance.now();
    if (delay > 1) await new Promise((r) => setTimeout(r, delay));
    await Promise.race([until(() => credit >= job.eventsPerFrame), closed]);
    if (ws.readyState !== WebSocket.OPEN) break;
    const first = counter;
    counter += job.eventsPerFrame;
    scheduled.set(first, next);
    credit -= job.eventsPerFrame;
    if (next >= measureFrom) report.eventsSent += job.eventsPerFrame;
    ws.send(frames.frame(first, toWallUs(next)));
    next += interval;
  }
  // The last results, or give up on them after 30 s.
  await Promise.race([until(() => scheduled.size === 0), closed, new Promise((r) => setTimeout(r, 30_000))]);
  report.unanswered += scheduled.size * job.eventsPerFrame;
  ws.close();
}

// "connect" → "connected"; then {startUs} → the report.
parentPort!.once(
  "message",
  threadTask(async () => {
    const conns = await Promise.all(Array.from({ length: job.connections }, open));
    parentPort!.once(
      "message",
      threadTask(async ({ startUs }: { startUs: number }) => {
        startAt = startUs / 1000 - performance.timeOrigin;
        measureFrom = startAt + job.warmupMs;
        stopAt = startAt + job.durationMs;
        await Promise.all(conns.map(runConnection));
        parentPort!.postMessage(report);
      }),
    );
    parentPort!.postMessage("connected");
  }),
);
parentPort!.postMessage("ready");
