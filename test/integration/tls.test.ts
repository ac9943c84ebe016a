/**
 * The gateway over TLS (WEIR_TLS_CERT_FILE / WEIR_TLS_KEY_FILE, uWS SSLApp), with a certificate
 * from a throwaway CA: a client that trusts the CA publishes over wss:// (every event acked and
 * in Kafka once) and subscribes over wss:// (gets them back); a plain ws:// connection, and a
 * client that does not trust the CA, get nowhere; HTTP answers carry HSTS; a key file that is not
 * PEM stops the boot with the reason.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import WebSocketNode from "ws";
import https from "node:https";
import { IngestClient, ResultCode, subscribe, type WebSocketConstructor } from "../../src/client/index.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";
import type { Gateway } from "../../gateway/gateway.js";
import { countById, eventTopics, gatewayFor, readTopics, waitFor } from "./support.js";
import { makeTestCertificates, trustingWebSocket, type TestCertificates } from "./tls-certs.js";

const tenant = `tls-${Date.now().toString(36)}`;
const auth = { tenant, apiKey: "key" };
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
let certs: TestCertificates;
let gateway: Gateway;
/** `ws` that trusts the test CA (what NODE_EXTRA_CA_CERTS or a real certificate gives a client). */
let TrustingWebSocket: WebSocketConstructor;

beforeAll(async () => {
  certs = makeTestCertificates();
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:key`], tlsCertFile: certs.certFile, tlsKeyFile: certs.keyFile });
  TrustingWebSocket = trustingWebSocket(certs.ca);
});
afterAll(async () => {
  await gateway?.close();
  certs?.remove();
});

test("publishes and subscribes over wss:// with every event acked, in Kafka once and delivered", async () => {
  expect(gateway.url).toMatch(/^wss:\/\//);
  const rng = createRng(5);
  const events = Array.from({ length: 200 }, (_, i) => ({ ...accessLogEvent(rng, i, { baseTimeMs: Date.now() - 1000 }), id: `${tenant}-${i}` }));
  const got: string[] = [];
  const subscription = subscribe({
    url: gateway.url.replace("/v1/ingest", "/v1/subscribe"),
    ...auth,
    stream: "events.weir.events.v1.HttpAccessLog",
    from: { timestampMs: Date.now() - 60_000 },
    WebSocket: TrustingWebSocket,
  });
  const reading = (async () => {
    for await (const d of subscription) {
      got.push(d.key);
      if (got.length >= events.length) break;
    }
  })();
  const client = await IngestClient.connect({ url: gateway.url, ...auth, WebSocket: TrustingWebSocket });
  const results = await client.publishUntilFinal(events);
  await client.close();
  expect(results.filter((r) => r.code !== ResultCode.ACK)).toEqual([]);
  await waitFor(() => got.length >= events.length, "the subscriber to get every event over wss://");
  await reading;
  subscription.close();
  const counts = countById(await readTopics(services.kafkaBrokers, eventTopics(), tenant));
  expect(events.every((e) => counts.get(e.id) === 1)).toBe(true);
});

test("plain ws:// and a client that does not trust the certificate get nowhere; HTTPS answers carry HSTS", async () => {
  await expect(
    IngestClient.connect({ url: gateway.url.replace("wss://", "ws://"), ...auth, WebSocket: TrustingWebSocket, connectTimeoutMs: 5000 }),
  ).rejects.toThrow();
  await expect(
    IngestClient.connect({ url: gateway.url, ...auth, WebSocket: WebSocketNode as unknown as WebSocketConstructor, connectTimeoutMs: 5000 }),
  ).rejects.toThrow();
  const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
    https
      .get(`https://127.0.0.1:${gateway.port}/healthz`, { ca: certs.ca }, (res) => {
        res.resume();
        resolve(res.headers);
      })
      .on("error", reject);
  });
  expect(headers["strict-transport-security"]).toContain("max-age=");
});

test("a key that is missing, not PEM or not a key stops the boot, naming the file", async () => {
  const boot = (tlsKeyFile: string) => gatewayFor(services, { apiKeys: [`${tenant}:key`], tlsCertFile: certs.certFile, tlsKeyFile });
  await expect(boot(`${certs.dir}/missing.key`)).rejects.toThrow(/WEIR_TLS_KEY_FILE: cannot read .*missing\.key/);
  await expect(boot(`${certs.dir}/server.ext`)).rejects.toThrow(/WEIR_TLS_KEY_FILE: .*server\.ext is not PEM/);
  await expect(boot(`${certs.dir}/server.csr`)).rejects.toThrow(/not a usable certificate and private key/);
});
