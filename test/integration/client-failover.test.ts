/**
 * The edge client's failover on real Kafka and Redis: a WeirClient streams to the first of two
 * gateway processes, which is SIGKILLed mid-stream. The client keeps what was unanswered, fails
 * over to the second gateway and re-sends it with the same ids; reading the topic back, every
 * event is there exactly once (the events the dead gateway had published are answered DUPLICATE,
 * after the second gateway found them in Kafka: docs/decisions/0010).
 */
import { afterAll, expect, inject, test } from "vitest";
import { ResultCode, WeirClient, type ConnectionEvent } from "../../src/client/index.js";
import { tripwireWebSocket } from "../../load/bench/tripwire.js";
import { quoteEvent, QUOTE_TOPIC } from "../unit-fixtures/events.js";
import { startGatewayChild, type GatewayChild } from "./gateway-child.js";
import { countById, readTopics } from "./support.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const run = `failover-${Date.now()}`;
const tenant = run;
const gateways: GatewayChild[] = [];
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
});

test("a gateway killed while a client streams: the client fails over, every event lands in Kafka exactly once", async () => {
  const start = (name: string) =>
    startGatewayChild({ services, gatewayId: `${run}-${name}`, apiKeys: [`${tenant}:k`], env: { WEIR_DEDUP_OWNER_TTL_MS: "2000" } });
  const [a, b] = await Promise.all([start("a"), start("b")]);
  gateways.push(a, b);

  const connections: ConnectionEvent[] = [];
  let killed: Promise<void> | undefined;
  let atKill = { acked: 0, inFlight: 0 };
  let framesAfterThreshold = 0;
  // The client's WebSocket, watched: gateway A is SIGKILLed a few milliseconds after the third
  // batch handed to it once 1,500 events are acked: it dies with batches unanswered, read,
  // claimed in Redis or in Kafka already (the interleaving varies from run to run).
  const tripwire = tripwireWebSocket((url) => {
    if (!killed && url === a.url && client.stats.acked >= 1500 && ++framesAfterThreshold === 3) {
      killed = new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 10)).then(() => {
        atKill = { acked: client.stats.acked, inFlight: client.stats.inFlight };
        return a.kill("SIGKILL");
      });
    }
  });
  const client: WeirClient = await WeirClient.open({
    urls: [a.url, b.url],
    tenant,
    apiKey: "k",
    WebSocket: tripwire,
    // A small buffer keeps the stream going at the gateway's pace, so the kill lands mid-stream.
    maxBufferedEvents: 400,
    backoff: { initialMs: 50, maxMs: 500 },
    onConnection: (e) => connections.push(e),
  });
  const total = 5000;
  const answers: Array<Promise<{ code: ResultCode }>> = [];
  // Bursts of 200 sends keep a few hundred events unanswered at any time.
  for (let i = 0; i < total; i += 200) {
    const burst = Array.from({ length: Math.min(200, total - i) }, (_, j) => client.send(quoteEvent(`${run}-${i + j}`)));
    for (const receipt of await Promise.all(burst)) answers.push(receipt.acked);
  }
  const results = await Promise.all(answers);
  await killed;
  await client.flush();
  const stats = client.stats;
  await client.close();

  // Killed mid-stream, with events unanswered; every event answered in the end.
  expect(killed).toBeDefined();
  expect(atKill.inFlight).toBeGreaterThan(0);
  expect(atKill.acked).toBeLessThan(total);
  expect(results.every((r) => r.code === ResultCode.ACK || r.code === ResultCode.DUPLICATE)).toBe(true);
  const connected = connections.filter((e) => e.kind === "connected").map((e) => (e as { url: string }).url);
  expect(connected[0]).toBe(a.url);
  expect(connected.at(-1)).toBe(b.url);
  expect(stats.gatewayId).toBe(b.gatewayId);

  // Kafka: every id exactly once.
  const counts = countById(await readTopics(services.kafkaBrokers, [QUOTE_TOPIC], tenant));
  const missing = Array.from({ length: total }, (_, i) => `${run}-${i}`).filter((id) => !counts.has(id));
  const twice = [...counts].filter(([, n]) => n > 1);
  expect({ missing: missing.length, twice: twice.length, records: counts.size }).toEqual({ missing: 0, twice: 0, records: total });
  console.log(
    `failover: killed at ${atKill.acked} acked / ${atKill.inFlight} in flight; answered ${stats.acked} ACK, ${stats.duplicates} DUPLICATE; ${stats.retried} retries`,
  );
});
