/**
 * The demo's edge part: a device streams through the edge relay on Deno while the relay's uplink
 * is down (its gateway is not up yet): the device is acked as events reach the relay's outbox;
 * then the gateway comes up, the relay forwards its backlog, and every event is in Kafka once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "../gateway.js";
import { envelopeOf, WeirClient } from "../../src/client/index.js";
import { QuoteSchema } from "../../src/events.js";
import { startRelayProcess } from "../../src/relay/relay-process.js";
import { freePorts } from "../../src/stack/index.js";

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function edgeDemo(services: { kafkaBrokers: string; redisUrl: string }, say: (line: string) => void, events = 2000): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "weir-demo-relay-"));
  const [relayPort, gatewayPort] = (await freePorts(2)) as [number, number];
  const config = {
    listen: { host: "127.0.0.1", port: relayPort },
    devices: ["site-7:device-key"],
    upstream: { urls: [`ws://127.0.0.1:${gatewayPort}/v1/ingest`], tenant: "demo", apiKey: "demo-key" },
    outbox: join(dir, "relay-outbox.log"),
    relayId: "demo-relay",
  };
  const relay = await startRelayProcess(config, dir).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  try {
    say(`\nedge: a relay on Deno at ${relay.url}; its uplink (a gateway on port ${gatewayPort}) is down`);
    const device = await WeirClient.open({ urls: relay.url, tenant: "site-7", apiKey: "device-key" });
    const run = Date.now().toString(36);
    const answers = [];
    for (let i = 0; i < events; i++) {
      const quote = { symbol: `EDGE${i % 5}`, bid: 100 + (i % 7), ask: 100.5 + (i % 7), bidSize: 10, askSize: 10, venue: "EDGE" };
      answers.push((await device.send(envelopeOf(QuoteSchema, quote, { id: `edge-${run}-${i}`, partitionKey: quote.symbol }))).acked);
    }
    await Promise.all(answers);
    await device.close();
    say(`  a device sent ${events} quotes: all acked by the relay, ${(await relay.stats()).upstream.unanswered} waiting in its outbox`);

    gateway = await startGateway({
      kafkaBrokers: [services.kafkaBrokers],
      redisUrl: services.redisUrl,
      port: gatewayPort,
      logLevel: "warn",
      apiKeys: ["demo:demo-key"],
      processorInGateway: false,
    });
    const started = performance.now();
    const drained = await until(async () => {
      const s = await relay.stats();
      return s.upstream.unanswered === 0 ? s : undefined;
    }, 120_000);
    say(
      `  the uplink came up: the relay forwarded its backlog in ${Math.round(performance.now() - started)} ms (${drained.upstream.acked} acked by the gateway, ${drained.upstream.duplicates} duplicates)`,
    );
  } finally {
    await relay.stop();
    await gateway?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
