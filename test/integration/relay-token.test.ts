/**
 * The relay's upstream credentials as a token file (relay.json `upstream.tokenFile`): the cloud
 * gateway takes tokens only; something outside the relay (here the test, every second) writes a
 * fresh 3-second token to the file; the relay reads it at connect and again before each expiry
 * (a Refresh in band), so devices' events keep flowing past several token lifetimes on one
 * upstream connection, each once in Kafka.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { Gateway } from "../../gateway/gateway.js";
import { IngestClient, ResultCode } from "../../src/client/index.js";
import { startRelayProcess, type RelayProcess } from "../../src/relay/relay-process.js";
import { freePort } from "../../src/stack/index.js";
import { quoteEvent, QUOTE_TOPIC } from "../unit-fixtures/events.js";
import { countById, gatewayFor, readTopics, waitFor } from "./support.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const SECRET = "relay token test secret of at least thirty-two bytes";
const run = `relay-token-${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), "weir-relay-token-"));
const tokenFile = join(dir, "upstream.jwt");
let gateway: Gateway;
let relay: RelayProcess | undefined;
let renewer: NodeJS.Timeout | undefined;

const token = () =>
  new SignJWT({ weir_tenant: run, weir_publish: ["weir.events.v1.*"] })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer("test-idp")
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3)
    .sign(new TextEncoder().encode(SECRET));

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [], jwtSecret: SECRET, jwtIssuer: "test-idp" });
  writeFileSync(tokenFile, await token());
  renewer = setInterval(() => void token().then((t) => writeFileSync(tokenFile, t)), 1000);
  relay = await startRelayProcess(
    {
      listen: { host: "127.0.0.1", port: await freePort() },
      devices: ["site-1:key-1"],
      upstream: { urls: [`ws://127.0.0.1:${gateway.port}/v1/ingest`], tenant: run, tokenFile },
      outbox: join(dir, "outbox", "relay.log"),
      lingerMs: 2,
    },
    dir,
    ["ignore", "ignore", "inherit"],
  );
});
afterAll(async () => {
  clearInterval(renewer);
  await relay?.stop();
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a relay whose upstream token is renewed on disk keeps forwarding past several token lifetimes on one connection", async () => {
  const device = await IngestClient.connect({ url: relay!.url, tenant: "site-1", apiKey: "key-1" });
  const ids: string[] = [];
  const startedAt = Date.now();
  for (let round = 0; Date.now() - startedAt < 8_000; round++) {
    const events = Array.from({ length: 5 }, (_, i) => quoteEvent(`${run}-${round}-${i}`));
    const results = await device.publishUntilFinal(events);
    expect(results.map((r) => r.code)).toEqual(events.map(() => ResultCode.ACK));
    ids.push(...events.map((e) => e.id));
    await new Promise((r) => setTimeout(r, 250));
  }
  await device.close();
  await waitFor(async () => {
    const { upstream } = await relay!.stats();
    return upstream.unanswered === 0 && upstream.acked >= ids.length;
  }, "the relay to forward everything").catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify((await relay!.stats()).upstream)}`);
  });
  const { upstream } = await relay!.stats();
  expect(upstream.connects).toBe(1);
  const counts = countById(await readTopics(services.kafkaBrokers, [QUOTE_TOPIC]));
  for (const id of ids) expect(counts.get(`site-1/${id}`), id).toBe(1);
});
