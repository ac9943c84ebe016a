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
