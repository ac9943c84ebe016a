/**
 * `weir gateway` as a group of ingest processes on one port (WEIR_INGEST_PROCESSES=2, decision
 * 0022): connections land on both processes, every event is acked and in Kafka once; /v1/stats and
 * /metrics, whichever process answers, speak for the group; SIGTERM stops every process; a SIGKILL
 * of the first process takes the others down with it (none is left serving on its own).
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { IngestClient, ResultCode } from "../../src/client/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import { processTree } from "../../load/bench/proc-stats.js";
import { startGatewayChild, type GatewayChild } from "./gateway-child.js";
import { countById, eventTopics, readTopics, waitFor } from "./support.js";
import { parsePrometheusText, sampleValue } from "./prometheus-text.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const tenant = `group-${Date.now().toString(36)}`;
let gateway: GatewayChild;
let base: string;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  gateway = await startGatewayChild({ services, gatewayId: "group", apiKeys: [`${tenant}:key`], env: { WEIR_INGEST_PROCESSES: "2" } });
  base = gateway.url.replace("ws://", "http://").replace("/v1/ingest", "");
  await gateway.waitForLog(/ingest processes started/);
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
});

type GroupStats = { ingest: { ack: number }; processes: Array<{ instanceId: string; acked: number }> };

test("connections spread over both processes; every event acked and once in Kafka; the ops pages speak for the group", async () => {
  // A worker is listening once it answers: wait until both processes have taken a connection.
  const clients: IngestClient[] = [];
  const rng = createRng(4);
  let sent = 0;
  await waitFor(async () => {
    const client = await IngestClient.connect({ url: gateway.url, tenant, apiKey: "key" });
    clients.push(client);
    const events = Array.from({ length: 20 }, (_, i) => ({ ...accessLogEvent(rng, sent + i, { baseTimeMs: Date.now() - 1000 }), id: `${tenant}-${sent + i}` }));
    sent += events.length;
    const results = await client.publishUntilFinal(events);
    expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
    const stats = (await (await fetch(`${base}/v1/stats`)).json()) as GroupStats;
    return stats.processes.length === 2 && stats.processes.every((p) => p.acked > 0);
  }, "both ingest processes to serve connections");
  for (const c of clients) await c.close();

  // Whichever process answers, the totals are the group's.
  for (let i = 0; i < 4; i++) {
    const stats = (await (await fetch(`${base}/v1/stats`)).json()) as GroupStats;
    expect(stats.ingest.ack).toBe(sent);
    expect(new Set(stats.processes.map((p) => p.instanceId)).size).toBe(2);
    const samples = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
    expect(sampleValue(samples, "weir_ingest_events_total", { result: "ack", code: "" })).toBe(sent);
  }
  const counts = countById(await readTopics(services.kafkaBrokers, eventTopics(), tenant));
  expect(counts.size).toBe(sent);
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
});

test("SIGTERM stops every process of the group; a SIGKILL of the first takes the others down", async () => {
  const pids = processTree(gateway.process.pid!).slice(1);
  expect(pids.length).toBeGreaterThanOrEqual(1);
  const t0 = Date.now();
  await gateway.stop();
  await waitFor(() => pids.every((p) => !alive(p)), "every ingest process to exit after SIGTERM", 30_000);
  console.log(`group stopped in ${Date.now() - t0} ms`);

  const second = await startGatewayChild({ services, gatewayId: "group2", apiKeys: [`${tenant}:key`], env: { WEIR_INGEST_PROCESSES: "2" } });
  await second.waitForLog(/ingest processes started/);
  const workers = processTree(second.process.pid!).slice(1);
  expect(workers.length).toBeGreaterThanOrEqual(1);
  const t1 = Date.now();
  await second.kill("SIGKILL");
  await waitFor(() => workers.every((p) => !alive(p)), "the workers to exit once the first process is gone", 30_000);
  console.log(`workers gone ${Date.now() - t1} ms after the first process's SIGKILL`);
}, 120_000);
