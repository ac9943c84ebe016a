/**
 * Event → subscriber latency through a gateway (the subscription benchmarks):
 *   subscribe-latency  one subscriber of a raw event stream while publishers send paced events
 *                      (5k/10k/20k per second): receive time − send time, p50/p99/p99.9
 *   subscribe-fanout   many subscribers (1,000) of the same stream at a modest event rate: the
 *                      same latency, deliveries/s in total, the gateway's CPU and RSS
 * Publishers (timed-publisher-worker) and subscribers (subscriber-worker) run on their own
 * threads; each event carries its scheduled send time (timed-frames.ts), the subscriber takes
 * its receive time from the same machine clock. Every event the gateway ACKed inside the
 * measurement window must reach every subscriber: the run waits for that (bounded by
 * `drainTimeoutMs`) and reports what is missing.
 */
import { Worker } from "node:worker_threads";
import { cpuSeconds, peakRssMiB, rssMiB } from "./proc-stats.js";
import type { PublisherJob, PublisherReport } from "./timed-publisher-worker.js";
import type { SubscriberJob, SubscriberReport } from "./subscriber-worker.js";
import { wallUs } from "./timed-frames.js";

export type SubscribeBenchOptions = {
  ingestUrl: string;
  subscribeUrl: string;
  tenant: string;
  apiKey: string;
  /** e.g. "events.weir.events.v1.HttpAccessLog" */
  stream: string;
  /** Offered events/s in total. */
  rate: number;
  eventsPerFrame: number;
  publisherConnections: number;
  subscribers: number;
  subscriberThreads: number;
  durationMs: number;
  warmupMs: number;
  /** Fixed-width id prefix, new per run (the gateway deduplicates ids). */
  idPrefix: string;
  /** Partition keys of the events (default: the access-log generator's five hosts). */
  hosts?: readonly string[];
  /** The gateway process, for its CPU (over the window) and RSS. */
  gatewayPid: number;
  /** After the publishers finish, how long to wait for the last deliveries (default 15 s). */
  drainTimeoutMs?: number;
};

/** Sorted latency samples, ms. */
export class Latencies {
  private readonly sorted: Float64Array;
  constructor(parts: readonly Float64Array[]) {
    const n = parts.reduce((s, p) => s + p.length, 0);
    this.sorted = new Float64Array(n);
    let at = 0;
    for (const p of parts) {
      this.sorted.set(p, at);
      at += p.length;
    }
    this.sorted.sort();
  }
  get count(): number {
    return this.sorted.length;
  }
  /** p in [0, 100]; NaN when empty (nearest rank, as histogram.ts). */
  percentile(p: number): number {
    if (this.sorted.length === 0) return Number.NaN;
    return this.sorted[Math.min(this.sorted.length - 1, Math.max(0, Math.ceil((p / 100) * this.sorted.length) - 1))]!;
  }
}

export type SubscribeBenchResult = {
  /** Seconds of the measurement window. */
  seconds: number;
  /** Time to open the subscriptions and get every Subscribed, ms. */
  subscribeSetupMs: number;
  publisher: Omit<PublisherReport, "ackLatencies">;
  ack: Latencies;
  /** Send → received, one sample per delivery. */
  latency: Latencies;
  /** Send → the gateway read it from Kafka (read_at_ms, ms resolution), one subscriber's deliveries. */
  toRead: Latencies;
  /** Gateway read → received (ms resolution of read_at_ms). */
  fromRead: Latencies;
  subscribers: number;
  live: number;
  closedEarly: SubscriberReport["closedEarly"];
  /** Deliveries of window events expected (acked × subscribers) and received (at any time). */
  expectedDeliveries: number;
  delivered: number;
  /** Deliveries received while the window lasted, all subscribers. */
  receivedInWindow: number;
  minPerSubscriber: number;
  maxPerSubscriber: number;
  /** DeliveryBatch frames received during the window, all subscribers. */
  deliveryFrames: number;
  /** Event-loop utilisation of each subscriber thread, from the window's start to the last delivery. */
  subscriberElu: number[];
  gatewayCpuCores: number;
  gatewayPeakRssMiB: number;
  gatewayRssEndMiB: number;
};

const workerUrl = new URL("./ts-worker.mjs", import.meta.url);

function startWorker<J>(module: string, data: J): Worker {
  return new Worker(workerUrl, { argv: [new URL(module, import.meta.url).href], workerData: data });
}

function nextMessage<T>(w: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    w.once("error", onError);
    w.once("message", (m: T) => {
      w.off("error", onError);
      resolve(m);
    });
  });
}

const sleepUntilWallUs = (us: number) => new Promise((r) => setTimeout(r, Math.max(0, (us - wallUs()) / 1000)));

export async function subscribeBench(opts: SubscribeBenchOptions): Promise<SubscribeBenchResult> {
  const workers: Worker[] = [];
  try {
    // Subscribers first, all live before anything is published.
    const setupStarted = performance.now();
    const perThread = Math.ceil(opts.subscribers / opts.subscriberThreads);
    const subscribers = Array.from({ length: opts.subscriberThreads }, (_, t) => {
      const job: SubscriberJob = {
        url: opts.subscribeUrl,
        tenant: opts.tenant,
        apiKey: opts.apiKey,
        stream: opts.stream,
        connections: Math.min(perThread, opts.subscribers - t * perThread),
        connectConcurrency: 50,
      };
      return startWorker("./subscriber-worker.ts", job);
    });
    workers.push(...subscribers);
    const ready = await Promise.all(subscribers.map((w) => nextMessage<string>(w)));
    if (ready.some((m) => m !== "ready")) throw new Error(`subscribers not ready: ${ready.join(", ")}`);
    const subscribeSetupMs = performance.now() - setupStarted;

    const pubJob: PublisherJob = {
      url: opts.ingestUrl,
      connections: opts.publisherConnections,
      eventsPerFrame: opts.eventsPerFrame,
      ratePerConnection: opts.rate / opts.publisherConnections,
      warmupMs: opts.warmupMs,
      durationMs: opts.durationMs,
      idPrefix: opts.idPrefix,
      tenant: opts.tenant,
      apiKey: opts.apiKey,
      ...(opts.hosts ? { hosts: opts.hosts } : {}),
    };
    const publisher = startWorker("./timed-publisher-worker.ts", pubJob);
    workers.push(publisher);
    await nextMessage(publisher); // "ready"
    publisher.postMessage("connect");
    await nextMessage(publisher); // "connected"

    const startUs = wallUs() + 100_000;
    const fromUs = startUs + opts.warmupMs * 1000;
    const untilUs = startUs + opts.durationMs * 1000;
    for (const w of subscribers) w.postMessage({ cmd: "window", fromUs, untilUs });
    const report = nextMessage<PublisherReport>(publisher);
    publisher.postMessage({ startUs });

    // The gateway's CPU over the window; its RSS throughout.
    let peakSampledRss = 0;
    const sampler = setInterval(() => (peakSampledRss = Math.max(peakSampledRss, rssMiB(opts.gatewayPid))), 250);
    await sleepUntilWallUs(fromUs);
    const cpu0 = cpuSeconds(opts.gatewayPid);
    await sleepUntilWallUs(untilUs);
    const cpu1 = cpuSeconds(opts.gatewayPid);
    const seconds = (untilUs - fromUs) / 1e6;

    const pub = await report;
    const subReports = await Promise.all(
      subscribers.map((w) => {
        const r = nextMessage<SubscriberReport>(w);
        w.postMessage({ cmd: "finish", expected: pub.acked, timeoutMs: opts.drainTimeoutMs ?? 15_000 });
        return r;
      }),
    );
    clearInterval(sampler);
    const { ackLatencies, ...publisherCounts } = pub;
    return {
      seconds,
      subscribeSetupMs,
      publisher: publisherCounts,
      ack: new Latencies([Float64Array.from(ackLatencies)]),
      latency: new Latencies(subReports.map((r) => r.latencies)),
      toRead: new Latencies(subReports.map((r) => r.toRead)),
      fromRead: new Latencies(subReports.map((r) => r.fromRead)),
      subscribers: opts.subscribers,
      live: subReports.reduce((s, r) => s + r.live, 0),
      closedEarly: subReports.flatMap((r) => r.closedEarly),
      expectedDeliveries: pub.acked * opts.subscribers,
      delivered: subReports.reduce((s, r) => s + r.delivered, 0),
      receivedInWindow: subReports.reduce((s, r) => s + r.receivedInWindow, 0),
      minPerSubscriber: Math.min(...subReports.map((r) => r.minPerConnection)),
      maxPerSubscriber: Math.max(...subReports.map((r) => r.maxPerConnection)),
      deliveryFrames: subReports.reduce((s, r) => s + r.frames, 0),
      subscriberElu: subReports.map((r) => r.elu),
      gatewayCpuCores: (cpu1 - cpu0) / seconds,
      gatewayPeakRssMiB: Math.max(peakRssMiB(opts.gatewayPid), peakSampledRss),
      gatewayRssEndMiB: rssMiB(opts.gatewayPid),
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
