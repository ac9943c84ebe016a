/**
 * The edge client's restart: a client process with a file outbox is SIGKILLed mid-stream and started
 * again on the same outbox. The second run re-sends what the first left unanswered (same ids)
 * and carries on; reading the topic back, every event is in Kafka exactly once.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { Gateway } from "../../gateway/gateway.js";
import { QUOTE_TOPIC } from "../unit-fixtures/events.js";
import { countById, gatewayFor, readTopics, waitFor } from "./support.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const run = `restart-${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), "weir-outbox-"));
let gateway: Gateway;
beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${run}:k`] });
});
afterAll(async () => {
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the client script; `lines` fills with its stdout lines. */
function clientProcess(from: number, to: number) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/integration/fixtures/outbox-client.ts", gateway.url, run, "k", join(dir, "outbox.log"), run, String(from), String(to)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, lines, exited, stderr: () => stderr };
}

const lastQueued = (lines: readonly string[]) => Math.max(-1, ...lines.filter((l) => l.startsWith("queued ")).map((l) => Number(l.slice(7))));

test("a client killed mid-stream and restarted with the same outbox: every event exactly once in Kafka", async () => {
  const total = 4000;
  const first = clientProcess(0, total);
  await waitFor(() => lastQueued(first.lines) >= 1500, "the first run to queue 1,500 events", 120_000);
  first.child.kill("SIGKILL");
  await first.exited;
  const resumeAt = lastQueued(first.lines) + 1;
  expect(resumeAt).toBeLessThan(total);

  const second = clientProcess(resumeAt, total);
  expect(await second.exited, second.stderr()).toBe(0);
  const done = second.lines.find((l) => l.startsWith("done "));
  const stats = JSON.parse(done!.slice(5)) as { recovered: number; acked: number; duplicates: number };
  // The first run left events unanswered in the outbox; the second re-sent them.
  expect(stats.recovered).toBeGreaterThan(0);

  const counts = countById(await readTopics(services.kafkaBrokers, [QUOTE_TOPIC], run));
  const missing = Array.from({ length: total }, (_, i) => `${run}-${i}`).filter((id) => !counts.has(id));
  const twice = [...counts].filter(([, n]) => n > 1);
  expect({ missing: missing.length, twice: twice.length, records: counts.size }).toEqual({ missing: 0, twice: 0, records: total });
  console.log(`restart: killed after ${resumeAt} queued; second run recovered ${stats.recovered}, ${stats.acked} ACK, ${stats.duplicates} DUPLICATE`);
});
