/**
 * The edge client's figures: one WeirClient fed in bursts of 100 concurrent send()s (an
 * application handing over what arrived), either as fast as the gateway (or relay) answers —
 * paced only by send() waiting at maxBufferedEvents — or paced at `rate` events/s; and the time
 * from send() to the event's final answer. Outboxes: memory, file without fsync, file with fsync
 * per (group-committed) write.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileOutbox, WeirClient, type Outbox } from "../../src/client/index.js";
import { tripwireWebSocket } from "./tripwire.js";
import { quoteEvent } from "../../test/unit-fixtures/events.js";
import { Samples } from "./histogram.js";

export type OutboxKind = "memory" | "file-sync-none" | "file-sync-always";

export type EdgeClientResult = { eventsPerSec: number; acked: number; latency: Samples; sendWait: Samples };

export async function edgeClientRate(opts: {
  urls: readonly string[];
  tenant: string;
  apiKey: string;
  outbox: OutboxKind;
  /** Events/s; default: as fast as answered. */
  rate?: number;
  durationMs: number;
  warmupMs: number;
  idPrefix: string;
}): Promise<EdgeClientResult> {
  const dir = mkdtempSync(join(tmpdir(), "weir-bench-outbox-"));
  let outbox: Outbox | undefined;
  if (opts.outbox !== "memory") outbox = await FileOutbox.open(join(dir, "outbox.log"), { sync: opts.outbox === "file-sync-always" ? "always" : "none" });
  const client = await WeirClient.open({ urls: opts.urls, tenant: opts.tenant, apiKey: opts.apiKey, ...(outbox ? { outbox } : {}), maxBufferedEvents: 4096 });
  const latency = new Samples();
  const sendWait = new Samples();
  const start = performance.now();
  const measureFrom = start + opts.warmupMs;
  const end = measureFrom + opts.durationMs;
  let acked = 0;
  let n = 0;
  const burst = 100;
  const pending: Array<Promise<unknown>> = [];
  while (performance.now() < end) {
    if (opts.rate) {
      // Paced: burst k is due at k · burst / rate seconds.
      const due = start + ((n / burst) * burst * 1000) / opts.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const t0 = performance.now();
    const receipts = await Promise.all(Array.from({ length: burst }, () => client.send(quoteEvent(`${opts.idPrefix}-${n++}`, { partitionKey: `S${n % 64}` }))));
    const t1 = performance.now();
    if (t0 >= measureFrom) sendWait.add(t1 - t0);
    for (const receipt of receipts) {
      pending.push(
        receipt.acked.then(() => {
          const t = performance.now();
          if (t0 >= measureFrom && t <= end) {
            acked++;
            latency.add(t - t0);
          }
        }),
      );
    }
    if (pending.length >= 8192) await Promise.all(pending.splice(0, 4096));
  }
  await Promise.all(pending);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  return { eventsPerSec: acked / (opts.durationMs / 1000), acked, latency, sendWait };
}

export type FailoverResult = {
  inFlightAtKill: number;
  /** Kill → the client's first connection to another gateway. */
  reconnectMs: number;
  /** Kill → every event unanswered at the kill has its final answer. */
  allAnsweredMs: number;
  duplicates: number;
  acked: number;
  latency: Samples;
};

/**
 * A gateway killed under a paced stream: `kill` runs at `killAtMs`; how long until the client is
 * on another gateway, and until every event unanswered at that moment is answered (re-sent there;
 * those the dead gateway had claimed wait for its claims to turn stale, decision 0010).
 */
export async function edgeFailover(opts: {
  urls: readonly string[];
  tenant: string;
  apiKey: string;
  rate: number;
  durationMs: number;
  killAtMs: number;
  kill(): void;
  idPrefix: string;
}): Promise<FailoverResult> {
  let connectedAt: number | undefined;
  let killedAt: number | undefined;
  let armed = false;
  const killNow = () => {
    killedAt = performance.now();
    atKill = new Set(unanswered);
    inFlightAtKill = atKill.size;
    opts.kill();
  };
  // The kill comes right after a batch is handed to the first gateway: that batch (at least) is
  // in flight, unanswered, when the gateway dies.
  const client = await WeirClient.open({
    urls: opts.urls,
    tenant: opts.tenant,
    apiKey: opts.apiKey,
    WebSocket: tripwireWebSocket((url) => armed && killedAt === undefined && url === opts.urls[0] && killNow()),
    maxBufferedEvents: 200_000,
    onConnection: (e) => {
      if (e.kind === "connected" && killedAt !== undefined && connectedAt === undefined) connectedAt = performance.now();
    },
  });
  const latency = new Samples();
  const unanswered = new Set<string>();
  let atKill: Set<string> | undefined;
  let inFlightAtKill = 0;
  let allAnsweredAt: number | undefined;
  const start = performance.now();
  const answers: Array<Promise<unknown>> = [];
  const burst = 50;
  for (let n = 0; performance.now() - start < opts.durationMs; ) {
    const due = start + (n * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    for (let i = 0; i < burst; i++, n++) {
      const id = `${opts.idPrefix}-${n}`;
      unanswered.add(id);
      const receipt = await client.send(quoteEvent(id, { partitionKey: `S${n % 64}` }));
      answers.push(
        receipt.acked.then(() => {
          latency.add(performance.now() - t0);
          unanswered.delete(id);
          if (atKill?.delete(id) && atKill.size === 0) allAnsweredAt = performance.now();
        }),
      );
    }
    armed = performance.now() - start >= opts.killAtMs;
  }
  await Promise.all(answers);
  const stats = client.stats;
  await client.close();
  return {
    inFlightAtKill,
    reconnectMs: connectedAt !== undefined && killedAt !== undefined ? connectedAt - killedAt : Number.NaN,
    allAnsweredMs: allAnsweredAt !== undefined && killedAt !== undefined ? allAnsweredAt - killedAt : Number.NaN,
    duplicates: stats.duplicates,
    acked: stats.acked,
    latency,
  };
}
