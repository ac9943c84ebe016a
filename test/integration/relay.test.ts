/**
 * The edge relay end to end: devices → the edge relay on Deno → (uplink) → gateway → Kafka. The uplink
 * is cut for a while mid-stream and the relay is SIGKILLed and restarted while it is down; devices
 * keep being acked (events stored in the relay's outbox), and once the uplink returns the relay
 * forwards its backlog over one connection. Read back, every event is in Kafka exactly once, and
 * the events a drop rule filters are not there at all.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { Gateway } from "../../gateway/gateway.js";
import { HttpAccessLogSchema } from "../../src/events.js";
import { envelopeOf, ResultCode, WeirClient } from "../../src/client/index.js";
import { prepareRelay, type RelaySnapshot } from "../../src/relay/relay-process.js";
import { freePort } from "../../src/stack/index.js";
import { accessLog, quoteEvent, QUOTE_TOPIC } from "../unit-fixtures/events.js";
import { countById, gatewayFor, readTopics, waitFor } from "./support.js";
import { TcpProxy } from "./tcp-proxy.js";
import { startChildProcess, type WeirChild } from "./weir-child.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const run = `relay-${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), "weir-relay-test-"));
let gateway: Gateway;
let uplink: TcpProxy;
let relay: WeirChild | undefined;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${run}:cloud-key`] });
  uplink = await TcpProxy.start(gateway.port);
});
afterAll(async () => {
  await relay?.stop();
  await uplink?.close();
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("devices → relay (uplink cut, relay restarted) → gateway → Kafka: every event exactly once, filtered ones nowhere", async () => {
  const relayPort = await freePort();
  const config = {
    listen: { host: "127.0.0.1", port: relayPort },
    devices: ["site-7:device-key"],
    upstream: { urls: [`ws://127.0.0.1:${uplink.port}/v1/ingest`], tenant: run, apiKey: "cloud-key" },
    outbox: join(dir, "outbox", "relay.log"),
    relayId: `${run}-relay`,
    rules: [{ match: { type: HttpAccessLogSchema.typeName }, action: "drop" }],
  };
  // Exactly what `weir relay --config` runs (gateway/cli/run-relay.ts), without the Node wrapper, so
  // the SIGKILL below hits the relay itself.
  const { command, args, env } = await prepareRelay(config, dir);
  const startRelay = async () => {
    const child = startChildProcess("relay", command, args, env);
    await child.waitForLog(/^relay ready$/);
    return child;
  };
  const stats = async () => (await (await fetch(`http://127.0.0.1:${relayPort}/v1/stats`)).json()) as RelaySnapshot;
  relay = await startRelay();

  const relayUrl = `ws://127.0.0.1:${relayPort}/v1/ingest`;
  const devices = await Promise.all(
    [1, 2, 3].map(() => WeirClient.open({ urls: relayUrl, tenant: "site-7", apiKey: "device-key", backoff: { initialMs: 50, maxMs: 500 } })),
  );
  const perDevice = 1500;
  const quoteIds: string[] = [];
  const droppedIds: string[] = [];
  // Each device streams in three phases: uplink up, uplink cut, uplink cut across a relay restart.
  const stream = async (phase: number) =>
    Promise.all(
      devices.map(async (device, d) => {
        const answers: Array<Promise<{ code: ResultCode }>> = [];
        for (let i = phase * (perDevice / 3); i < (phase + 1) * (perDevice / 3); i++) {
          const id = `${run}-d${d}-${i}`;
          quoteIds.push(id);
          answers.push((await device.send(quoteEvent(id, { partitionKey: `S${i % 11}` }))).acked);
          if (i % 50 === 0) {
            const dropped = envelopeOf(HttpAccessLogSchema, accessLog, { id: `${id}-log` });
            droppedIds.push(dropped.id);
            answers.push((await device.send(dropped)).acked);
          }
        }
        const results = await Promise.all(answers);
        expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
      }),
    );

  await stream(0);
  await waitFor(async () => (await stats()).upstream.acked > 0, "the relay to forward over the uplink");

  uplink.cut();
  await stream(1);
  // The devices were acked while the uplink is down: the events wait in the relay's outbox.
  const backlog = (await stats()).upstream.unanswered;
  expect(backlog).toBeGreaterThan(0);

  // The relay dies (SIGKILL) with its backlog, and comes back on the same outbox; devices reconnect.
  await relay.kill("SIGKILL");
  relay = await startRelay();
  await stream(2);
  const afterRestart = await stats();
  expect(afterRestart.upstream.recovered).toBeGreaterThanOrEqual(backlog);
  await waitFor(() => uplink.refused >= 3, "the relay to try the uplink a few times while it is cut");

  uplink.restore();
  await waitFor(async () => (await stats()).upstream.unanswered === 0, "the relay to drain its backlog", 120_000);
  await Promise.all(devices.map((d) => d.close()));

  const records = await readTopics(services.kafkaBrokers, [QUOTE_TOPIC, "weir.events.http-access-log"], run);
  const counts = countById(records);
  // Upstream, a device's id is qualified by its device tenant (src/relay/relay.ts, upstreamId).
  const upstreamId = (id: string) => `site-7/${id}`;
  const missing = quoteIds.filter((id) => counts.get(upstreamId(id)) !== 1);
  expect({ quotes: quoteIds.length, missingOrTwice: missing.length, dropped: droppedIds.filter((id) => counts.has(upstreamId(id))).length }).toEqual({
    quotes: 3 * perDevice,
    missingOrTwice: 0,
    dropped: 0,
  });
  expect(counts.size).toBe(quoteIds.length);
  console.log(
    `relay: backlog ${backlog} at the relay kill, ${afterRestart.upstream.recovered} recovered from its outbox; uplink refused ${uplink.refused} connections while cut`,
  );
});
