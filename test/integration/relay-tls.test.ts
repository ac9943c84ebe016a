/**
 * The edge relay over TLS (relay.json `listen.certFile` / `listen.keyFile`, Deno.serve with the
 * certificate, read inside the relay's sandbox): a device that trusts the CA publishes over wss://
 * and its events reach Kafka once through the gateway; a plain ws:// connection gets nowhere; the
 * relay's own pages answer over https://; a certificate without its key stops the config check.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { Gateway } from "../../gateway/gateway.js";
import { IngestClient, ResultCode, type WebSocketConstructor } from "../../src/client/index.js";
import { parseRelayConfig } from "../../src/relay/config.js";
import { startRelayProcess, type RelayProcess } from "../../src/relay/relay-process.js";
import { freePort } from "../../src/stack/index.js";
import { quoteEvent, QUOTE_TOPIC } from "../unit-fixtures/events.js";
import { countById, gatewayFor, readTopics, waitFor } from "./support.js";
import { makeTestCertificates, trustingWebSocket, type TestCertificates } from "./tls-certs.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const run = `relay-tls-${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), "weir-relay-tls-"));
let certs: TestCertificates;
let gateway: Gateway;
let relay: RelayProcess | undefined;
let TrustingWebSocket: WebSocketConstructor;

beforeAll(async () => {
  certs = makeTestCertificates();
  TrustingWebSocket = trustingWebSocket(certs.ca);
  gateway = await gatewayFor(services, { apiKeys: [`${run}:cloud-key`] });
  relay = await startRelayProcess(
    {
      listen: { host: "127.0.0.1", port: await freePort(), certFile: certs.certFile, keyFile: certs.keyFile },
      devices: ["site-1:key-1"],
      upstream: { urls: [`ws://127.0.0.1:${gateway.port}/v1/ingest`], tenant: run, apiKey: "cloud-key" },
      outbox: join(dir, "outbox", "relay.log"),
      lingerMs: 2,
    },
    dir,
    ["ignore", "ignore", "inherit"],
    certs.ca,
  );
});
afterAll(async () => {
  await relay?.stop();
  await gateway?.close();
  certs?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test("a device publishes to the relay over wss://; every event reaches Kafka once; plain ws:// gets nowhere", async () => {
  expect(relay!.url).toMatch(/^wss:\/\//);
  const device = await IngestClient.connect({ url: relay!.url, tenant: "site-1", apiKey: "key-1", WebSocket: TrustingWebSocket });
  const events = Array.from({ length: 20 }, (_, i) => quoteEvent(`${run}-${i}`));
  const results = await device.publishUntilFinal(events);
  await device.close();
  expect(results.map((r) => r.code)).toEqual(events.map(() => ResultCode.ACK));
  await waitFor(async () => (await relay!.stats()).upstream.unanswered === 0, "the relay to forward everything");
  const counts = countById(await readTopics(services.kafkaBrokers, [QUOTE_TOPIC]));
  for (const e of events) expect(counts.get(`site-1/${e.id}`), e.id).toBe(1);

  await expect(
    IngestClient.connect({
      url: relay!.url.replace("wss://", "ws://"),
      tenant: "site-1",
      apiKey: "key-1",
      WebSocket: TrustingWebSocket,
      connectTimeoutMs: 5000,
    }),
  ).rejects.toThrow();
});

test("a certificate without its key is refused by the config check", () => {
  expect(() =>
    parseRelayConfig({ listen: { certFile: "relay.pem" }, devices: ["a:b"], upstream: { urls: ["wss://gw/v1/ingest"], tenant: "t", apiKey: "k" } }),
  ).toThrow(/certFile and keyFile go together/);
});
