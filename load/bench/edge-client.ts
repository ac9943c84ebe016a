/**
 * The edge client's figures: one WeirClient streaming as fast as a gateway (or relay) answers —
 * the caller's loop is paced only by `send()` (maxBufferedEvents) — and the time from send() to
 * the event's final answer. Outboxes: memory, file without fsync, file with fsync per write.
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
  const pending: Array<Promise<unknown>> = [];
  while (performance.now() < end) {
    const t0 = performance.now();
    const receipt = await client.send(quoteEvent(`${opts.idPrefix}-${n++}`, { partitionKey: `S${n % 64}` }));
    const t1 = performance.now();
    if (t0 >= measureFrom) sendWait.add(t1 - t0);
    pending.push(
      receipt.acked.then(() => {
        const t = performance.now();
        if (t0 >= measureFrom && t <= end) {
          acked++;
          latency.add(t - t0);
        }
      }),
    );
    if (pending.length >= 8192) await Promise.all(pending.splice(0, 4096));
  }
  await Promise.all(pending);
  await client.close();
  rmSync(dir, { recursive: true, force: true });
  return { eventsPerSec: acked / (opts.durationMs / 1000), acked, latency, sendWait };
}
