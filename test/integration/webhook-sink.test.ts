/**
 * The webhook sink end to end on the real Kafka: 200 alerts (some written in Kafka transactions,
 * plus one aborted transaction), a local receiver that deduplicates by idempotency key like a real
 * one, answers 503 at first, refuses one alert with 400, and at some point stops answering so that
 * the sink is closed with deliveries in flight. A second sink in the same group takes over.
 *
 * Expected: every committed alert reaches the receiver, none of the aborted ones; re-sends happen
 * only for the deliveries in flight at close (at most one per partition) and carry the same key;
 * the refused alert and a malformed record land in the refused topic with the reason.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Kafka, logLevel, type Message } from "kafkajs";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { AlertRecord } from "../../src/kafka-contract.js";
import { readCommitted } from "../../src/adapters/kafka/read-committed.js";
import { WebhookSink } from "../../src/sinks/webhook-sink.js";
import { waitFor } from "./support.js";

const run = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
const brokers = inject("kafkaBrokers");
const topic = `weir.alerts.test-${run}`;
const refusedTopic = `weir.alerts.refused.test-${run}`;
const groupId = `weir-webhook-test-${run}`;
const PARTITIONS = 4;
const ALERTS = 200;
const HOLD_AFTER = 60; // distinct alerts accepted before the receiver stops answering
const refuseId = `${run}:refuse-me`;

const kafka = new Kafka({ brokers: [brokers], clientId: "weir-test-webhook", logLevel: logLevel.NOTHING });

function alert(alertId: string, seq: number, partition: number): AlertRecord {
  return { alertId, job: "fraud", kind: "fraud", key: `card-${seq % 17}`, atMs: Date.now(), summary: `test alert ${seq}`, detail: { seq, partition } };
}
/** Alert `seq` on partition seq % PARTITIONS, so each partition's order is known. */
const message = (a: AlertRecord): Message => ({ key: a.alertId, value: JSON.stringify(a), partition: (a.detail as { partition: number }).partition });
const nth = (seq: number) => alert(`${run}:a${seq}`, seq, seq % PARTITIONS);

// The receiver: every request it accepted (including those it then never answered), in order.
type Accepted = { key: string; alertId: string; seq: number; partition: number };
const accepted: Accepted[] = [];
const distinct = new Set<string>();
const held: ServerResponse[] = [];
let unavailable = 5; // the first requests get 503
let holding = false; // set once HOLD_AFTER is reached, cleared by the test
let released = false;
// Requests of the first sink that arrive after it was closed and the receiver released: their
// bytes were on the wire when close() cut the connection, so the receiver answers a socket nobody
// reads any more. The first sink never counts them; the second sink sends them again.
let lateFromFirst = 0;
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const weir = (JSON.parse(Buffer.concat(chunks).toString()) as { weir: AlertRecord }).weir;
    const key = String(req.headers["idempotency-key"]);
    if (weir.alertId === refuseId) return void res.writeHead(400).end("alert rejected: test refusal");
    if (unavailable > 0) {
      unavailable--;
      return void res.writeHead(503).end();
    }
    const { seq, partition } = weir.detail as { seq: number; partition: number };
    accepted.push({ key, alertId: weir.alertId, seq, partition });
    if (released && req.headers["x-test-sink"] === "1") lateFromFirst++;
    const duplicate = distinct.has(key);
    distinct.add(key);
    // Processed, but the answer never leaves: as if the receiver or the network died right here.
    if (!released && distinct.size >= HOLD_AFTER) holding = true;
    if (holding) {
      return void held.push(res);
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, duplicate }));
  });
});
let url = "";
const sinks: WebhookSink[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/alerts`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] });
  await admin.disconnect();
});
afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

function sink(): WebhookSink {
  const s = new WebhookSink({
    brokers: [brokers],
    url,
    topic,
    refusedTopic,
    groupId,
    headers: { authorization: "Bearer test", "x-test-sink": String(sinks.length + 1) },
    delivery: { baseDelayMs: 20, maxDelayMs: 200 },
    log: (line) => logLines.push(line),
  });
  sinks.push(s);
  return s;
}

test("every committed alert delivered once per idempotency key, across a restart; refusals kept", async () => {
  // 0-99 and the refused one: plain idempotent producer; 100-149 and 150-199: two committed
  // transactions with an aborted one (on every partition) in between; one record that is no alert.
  const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await plain.connect();
  await plain.send({
    topic,
    acks: -1,
    messages: [
      ...Array.from({ length: 100 }, (_, i) => message(nth(i))),
      message(alert(refuseId, -1, 1)),
      { key: `${run}:garbage`, value: "{not json", partition: 2 },
    ],
  });
  await plain.disconnect();
  const tx = kafka.producer({ transactionalId: `weir-test-alerts-${run}`, idempotent: true, maxInFlightRequests: 1 });
  await tx.connect();
  const aborted = Array.from({ length: 12 }, (_, i) => alert(`${run}:aborted-${i}`, 1000 + i, i % PARTITIONS));
  for (const [list, commit] of [
    [Array.from({ length: 50 }, (_, i) => nth(100 + i)), true],
    [aborted, false],
    [Array.from({ length: 50 }, (_, i) => nth(150 + i)), true],
  ] as const) {
    const t = await tx.transaction();
    await t.send({ topic, messages: list.map(message) });
    await (commit ? t.commit() : t.abort());
  }
  await tx.disconnect();

  // First sink: runs until the receiver stops answering, then is closed with deliveries in flight.
  const first = sink();
  await first.start();
  await waitFor(() => held.length >= 1, "the receiver to hold a delivery");
  const closing = Date.now();
  await first.close();
  // The abort cut the held requests: no waiting for the 10 s request timeout.
  expect(Date.now() - closing).toBeLessThan(8000);
  const inFlightAtClose = held.length;
  holding = false;
  released = true;
  for (const r of held.splice(0)) r.destroy();
  expect(distinct.size).toBeLessThan(ALERTS);

  // Second sink, same group: continues from the committed offsets.
  const second = sink();
  await second.start();
  const refusedCount = () => first.stats().refused + second.stats().refused;
  await waitFor(() => distinct.size >= ALERTS && refusedCount() >= 2, `all ${ALERTS} alerts (have ${distinct.size}) and 2 refusals`, 120_000);
  // The receiver counts a request before its answer reaches the sink: let the sink's counter catch up before closing it.
  await waitFor(
    () => first.stats().delivered + second.stats().delivered >= accepted.length - inFlightAtClose - lateFromFirst,
    "the sinks to count their deliveries",
  );
  await second.close();

  // Exactly the committed alerts, none of the aborted ones.
  const expected = new Set(Array.from({ length: ALERTS }, (_, i) => `${run}:a${i}`));
  expect(distinct).toEqual(expected);
  expect(accepted.some((a) => a.alertId.includes(":aborted-"))).toBe(false);
  // Each request's key is its alert's id; re-sends only for what was in flight at close.
  expect(accepted.every((a) => a.key === a.alertId)).toBe(true);
  const resent = accepted.length - distinct.size;
  expect(resent).toBeLessThanOrEqual(PARTITIONS);
  expect(resent).toBe(inFlightAtClose + lateFromFirst); // each one cut at close is sent again by the second sink
  const byKey = new Map<string, number>();
  for (const a of accepted) byKey.set(a.key, (byKey.get(a.key) ?? 0) + 1);
  expect([...byKey.values()].filter((n) => n > 1).length).toBe(resent);
  // Inside a partition, first deliveries follow the partition's order.
  const firstSeen = new Set<string>();
  const lastSeq = new Map<number, number>();
  for (const a of accepted) {
    if (firstSeen.has(a.key)) continue;
    firstSeen.add(a.key);
    expect(a.seq, `partition ${a.partition}`).toBeGreaterThan(lastSeq.get(a.partition) ?? -1);
    lastSeq.set(a.partition, a.seq);
  }

  // Counters: the 503s were retried; every accepted request except the unanswered ones counted.
  const [s1, s2] = [first.stats(), second.stats()];
  expect(unavailable).toBe(0);
  expect(s1.retries + s2.retries).toBeGreaterThanOrEqual(5);
  expect(s1.delivered + s2.delivered).toBe(accepted.length - inFlightAtClose - lateFromFirst);
  expect(s1.refused + s2.refused).toBe(2);

  // The refused alert and the malformed record, read back read_committed, with their reasons.
  const refused: Array<{ key: string; value: string; headers: Record<string, string> }> = [];
  await readCommitted(kafka, refusedTopic, (_p, m) =>
    refused.push({
      key: m.key?.toString() ?? "",
      value: m.value?.toString() ?? "",
      headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])),
    }),
  );
  expect(refused.map((r) => r.key).sort()).toEqual([`${run}:garbage`, refuseId].sort());
  const byWebhook = refused.find((r) => r.key === refuseId)!;
  expect(byWebhook.headers["weir.refused.status"]).toBe("400");
  expect(byWebhook.headers["weir.refused.body"]).toBe("alert rejected: test refusal");
  expect(byWebhook.headers["weir.source.topic"]).toBe(topic);
  expect((JSON.parse(byWebhook.value) as AlertRecord).alertId).toBe(refuseId);
  const garbage = refused.find((r) => r.key === `${run}:garbage`)!;
  expect(garbage.value).toBe("{not json");
  expect(garbage.headers["weir.refused.reason"]).toMatch(/not JSON/);
  expect(logLines.some((l) => l.includes(refuseId) && l.includes("HTTP 400"))).toBe(true);
  expect(logLines.some((l) => l.startsWith("malformed record"))).toBe(true);
});

test("a sink stuck retrying gives its partitions up at a rebalance instead of blocking the group", async () => {
  // The receiver is down (503) at first: the first sink retries on both partitions. A second sink
  // joining must get a partition within seconds, not after the first one is evicted (30-60 s).
  const topic2 = `${topic}-rebalance`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topic2, numPartitions: 2 }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic: topic2, acks: -1, messages: Array.from({ length: 20 }, (_, i) => message(alert(`${run}:r${i}`, i, i % 2))) });
  await producer.disconnect();

  let down = true;
  const requestsFrom = { a: 0, b: 0 };
  const delivered = new Set<string>();
  const server = createServer((req, res) => {
    requestsFrom[req.headers["x-sink"] as "a" | "b"]++;
    req.resume().on("end", () => {
      if (down) return void res.writeHead(503).end();
      delivered.add(String(req.headers["idempotency-key"]));
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const make = (name: "a" | "b") => {
    const s = new WebhookSink({
      brokers: [brokers],
      url: hook,
      topic: topic2,
      refusedTopic,
      groupId: `${groupId}-rebalance`,
      headers: { "x-sink": name },
      delivery: { baseDelayMs: 20, maxDelayMs: 100 },
    });
    sinks.push(s);
    return s;
  };
  try {
    const a = make("a");
    await a.start();
    await waitFor(() => a.stats().retries >= 6, "the first sink to be retrying");
    const b = make("b");
    const joined = Date.now();
    await b.start();
    await waitFor(() => requestsFrom.b > 0, "the second sink to get a partition", 20_000);
    expect(Date.now() - joined).toBeLessThan(20_000);
    down = false;
    await waitFor(() => delivered.size === 20, "all 20 alerts");
    // The receiver counts a request before its answer reaches the sink, so the sinks' own counters
    // catch up a moment later.
    await waitFor(() => a.stats().delivered + b.stats().delivered >= 20, "both sinks to count their deliveries");
    expect(a.stats().delivered).toBeGreaterThan(0);
    expect(b.stats().delivered).toBeGreaterThan(0);
    expect(a.stats().delivered + b.stats().delivered).toBeGreaterThanOrEqual(20);
    await Promise.all([a.close(), b.close()]);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
