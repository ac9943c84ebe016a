/**
 * The k6 subscription script (load/k6/subscribe.js), run through the Node k6 shim against a
 * gateway on the real Kafka and Redis while events are published: every VU receives every event
 * of its tenant once (and nothing of another tenant), every delivery decodes, and a VU whose
 * connection the gateway drops resumes from its last token without a gap or a repeat. Also
 * checks the benchmark's reader (load/bench/delivery-scan.ts) against protobuf-es; the k6 codec's
 * frames are checked in test/load/proto.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { IngestClient, ResultCode, envelopeOf, subscribe, type WeirSubscription } from "../../src/client/index.js";
import { HttpAccessLogSchema } from "../../src/gen/weir/events/v1/access_log_pb.js";
import { ClientFrameSchema, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { WeirError } from "../../src/errors.js";
import type { Gateway } from "../../gateway/gateway.js";
import { scanServerFrame } from "../../load/bench/delivery-scan.js";
import { sendTimeUsOf, timedFrameFactory } from "../../load/bench/timed-frames.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { runK6Script } from "./k6-shim.js";

const run = `k6s-${Date.now().toString(36)}`;
const tenant = `${run}-a`;
const other = `${run}-b`;
const resumeTenant = `${run}-c`;
const warmTenant = `${run}-warm`;
const STREAM = "events.weir.events.v1.HttpAccessLog";
const TOPIC = "weir.events.http-access-log";
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const dir = mkdtempSync(join(tmpdir(), "weir-k6-sub-"));
let gateway: Gateway;
let warmSub: WeirSubscription | undefined;

type Summary = {
  metrics: Record<string, { values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
  root_group: { checks: Array<{ name: string; passes: number; fails: number }> };
  scenarios: Record<string, { completedIterations: number; interruptedIterations: number }>;
  thresholdsOk: boolean;
};

const subscribeUrl = () => gateway.url.replace("/v1/ingest", "/v1/subscribe");
const accessLogs = (who: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    envelopeOf(
      HttpAccessLogSchema,
      { host: `${who}-h${i % 5}`, method: "GET", path: `/${i}`, status: 200 + (i % 4) },
      { id: `${who}-${i}`, partitionKey: `${who}-h${i % 5}` },
    ),
  );

/**
 * Publishes `batches` batches of `size` events one after the other, each made just before it is
 * sent (event_time = send time, which subscribe.js measures its latency from); resolves with the
 * number of events Kafka has.
 */
let publishes = 0;
async function publishInTurn(who: string, batches: number, size: number): Promise<number> {
  const call = publishes++;
  const client = await IngestClient.connect({ url: gateway.url, tenant: who, apiKey: "secret" });
  let acked = 0;
  try {
    for (let b = 0; b < batches; b++) {
      const results = await client.publishUntilFinal(accessLogs(`${who}-${call}-${b}`, size), { deadlineMs: 60_000 });
      acked += results.filter((r) => r.code === ResultCode.ACK).length;
    }
  } finally {
    await client.close();
  }
  return acked;
}

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:secret`, `${other}:secret`, `${resumeTenant}:secret`, `${warmTenant}:secret`] });
  // Warm up the ingest path and the stream's shared tail: a subscriber of another tenant stays
  // on the stream (the tail stays open) and has seen an event go through end to end.
  let received = 0;
  warmSub = subscribe({ url: subscribeUrl(), tenant: warmTenant, apiKey: "secret", stream: STREAM });
  const counting = (async () => {
    for await (const _ of warmSub) received++;
  })().catch(() => {});
  for (let round = 0; received === 0; round++) {
    await streamAll(gateway.url, { tenant: warmTenant, apiKey: "secret" }, accessLogs(`${warmTenant}-${round}`, 50), { connections: 1, batch: 25 });
    await waitFor(() => received > 0, "a warm-up delivery", 2000).catch(() => {});
    if (round > 30) throw new Error("no warm-up delivery");
  }
  void counting;
}, 120_000);

afterAll(async () => {
  warmSub?.close();
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

const runK6 = (env: Record<string, string>, summaryFile: string) => runK6Script("load/k6/subscribe.js", env, summaryFile);

/** The tenant's subscriptions that are attached and positioned (live or catching up). */
const subscriptionsOf = (who: string) => [...gateway.subscriptions.subscribers].filter((s) => s.tenant === who && !s.closed && s.next.length > 0);

async function topicEnds(): Promise<number[]> {
  const admin = new Kafka({ brokers: [services.kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(TOPIC);
    const ends: number[] = [];
    for (const o of offsets) ends[o.partition] = Number(o.high);
    return ends;
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the gateway has handed every record now in the topic to each of the tenant's `n` subscriptions. */
async function dispatched(who: string, n: number): Promise<void> {
  const ends = await topicEnds();
  await waitFor(() => {
    const subs = subscriptionsOf(who);
    return subs.length === n && subs.every((s) => s.pending === 0 && ends.every((e, p) => s.next[p]! >= e));
  }, `every record dispatched to the ${n} subscriptions`);
}

function summaryOf(file: string): Summary & { count(name: string): number } {
  const summary = JSON.parse(readFileSync(file, "utf8")) as Summary;
  return { ...summary, count: (name: string) => summary.metrics[name]?.values["count"] ?? 0 };
}

const VUS = 20;

test("k6 subscribe.js through the shim: every VU gets every event of its tenant once, and all decode", async () => {
  const summaryFile = join(dir, "summary.json");
  const started = performance.now();
  // The latency threshold is loose: all VUs share the shim's one thread, on a machine that also
  // runs Kafka, the gateway and other tests. The counts are what this test is about.
  const running = runK6(
    { WEIR_URL: subscribeUrl(), WEIR_TENANT: tenant, WEIR_API_KEY: "secret", WEIR_VUS: String(VUS), WEIR_DURATION: "10s", WEIR_LATENCY_P99_MS: "2000" },
    summaryFile,
  );
  await waitFor(() => subscriptionsOf(tenant).length === VUS, `${VUS} k6 subscriptions`, 30_000);
  // Another tenant's events on the same stream, interleaved with ours: none may reach the VUs.
  const [mine] = await Promise.all([publishInTurn(tenant, 15, 20), publishInTurn(other, 10, 20)]);
  expect(mine).toBe(300);
  await dispatched(tenant, VUS);
  const dispatchedAfterMs = performance.now() - started;

  const result = await running;
  const output = `exit ${result.code} (published and dispatched after ${Math.round(dispatchedAfterMs)} ms)\n${result.stdout}\n${result.stderr}`;
  expect(result.code, output).toBe(0);
  const summary = summaryOf(summaryFile);
  const lat = summary.metrics["weir_delivery_latency"]?.values ?? {};
  process.stderr.write(
    `k6 subscribe.js via the shim: ${VUS} VUs, ${summary.count("weir_deliveries")} deliveries in ${summary.count("weir_delivery_batches")} frames, ` +
      `event → VU latency med ${lat["med"]} ms, p(99) ${lat["p(99)"]?.toFixed(1)} ms\n`,
  );
  expect(summary.count("weir_deliveries"), output).toBe(VUS * mine);
  expect(summary.count("weir_resumes")).toBe(0);
  expect(summary.thresholdsOk).toBe(true);
  expect(summary.metrics["weir_errors"]?.values["rate"]).toBe(0);
  expect(summary.metrics["weir_deliveries"]?.thresholds).toEqual({ "count>0": { ok: true } });
  expect(summary.scenarios["subscribe"]?.interruptedIterations).toBe(0);
  expect(lat["min"]).toBeGreaterThanOrEqual(0);
  const checks = Object.fromEntries(summary.root_group.checks.map((c) => [c.name, c]));
  for (const c of summary.root_group.checks) expect(c, c.name).toMatchObject({ fails: 0 });
  expect(checks["Subscribed received"]?.passes).toBe(VUS);
  expect(checks["deliveries decode"]?.passes).toBe(summary.count("weir_delivery_batches"));
}, 120_000);

test("k6 subscribe.js resumes from its last token when the gateway drops the VUs: no gap, no repeat", async () => {
  const summaryFile = join(dir, "summary-resume.json");
  // (Events published while the VUs are away arrive when they are back: latency is not the point here.)
  const running = runK6(
    { WEIR_URL: subscribeUrl(), WEIR_TENANT: resumeTenant, WEIR_API_KEY: "secret", WEIR_VUS: String(VUS), WEIR_DURATION: "12s", WEIR_LATENCY_P99_MS: "60000" },
    summaryFile,
  );
  await waitFor(() => subscriptionsOf(resumeTenant).length === VUS, `${VUS} k6 subscriptions`, 30_000);
  const before = await publishInTurn(resumeTenant, 10, 15);
  await dispatched(resumeTenant, VUS);
  // The gateway drops every VU (as on a restart); each comes back with its token.
  const dropped = subscriptionsOf(resumeTenant);
  for (const s of dropped) s.fail(new WeirError("WEIR_ERR_SHUTDOWN"));
  // Events published while the VUs are away.
  const during = await publishInTurn(resumeTenant, 10, 10);
  await waitFor(() => subscriptionsOf(resumeTenant).filter((s) => !dropped.includes(s)).length === VUS, "the VUs to resubscribe", 30_000);
  const after = await publishInTurn(resumeTenant, 10, 15);
  await dispatched(resumeTenant, VUS);

  const result = await running;
  const output = `exit ${result.code}\n${result.stdout}\n${result.stderr}`;
  expect(result.code, output).toBe(0);
  const summary = summaryOf(summaryFile);
  const total = before + during + after;
  expect(total).toBe(400);
  expect(summary.count("weir_deliveries"), output).toBe(VUS * total);
  expect(summary.count("weir_resumes"), output).toBe(VUS);
  // One error sample per dropped connection, none per delivery.
  expect(summary.metrics["weir_errors"]?.values["rate"]).toBeCloseTo(VUS / (VUS + VUS * total), 10);
  const checks = Object.fromEntries(summary.root_group.checks.map((c) => [c.name, c]));
  expect(checks["subscription ended by the VU"]).toMatchObject({ passes: VUS, fails: VUS });
  expect(checks["deliveries decode"]?.fails).toBe(0);
  expect(summary.scenarios["subscribe"]?.interruptedIterations).toBe(0);
}, 120_000);

describe("the benchmark's subscription reader against protobuf-es", () => {
  const deliveries = [
    {
      key: "web-1",
      value: toBinary(
        HttpAccessLogSchema,
        create(HttpAccessLogSchema, {
          host: "web-1",
          method: "GET",
          path: "/t/1732876543210123",
          status: 503,
          bytesSent: 2n ** 40n,
          latencyMs: 7,
          clientIp: "10.0.0.1",
          userAgent: "ü",
        }),
      ),
      contentType: "application/x-protobuf; messageType=weir.events.v1.HttpAccessLog",
      timestampMs: 1_732_876_543_210n,
      kind: "weir.events.v1.HttpAccessLog",
      resumeToken: "djF8dG9waWN8MSwyLDM",
      readAtMs: 1_732_876_543_215n,
    },
    {
      key: "日本",
      value: new TextEncoder().encode('{"a":1}'),
      contentType: "application/json",
      timestampMs: -5n,
      kind: "results",
      resumeToken: "x",
      readAtMs: 0n,
    },
  ];
  const batch = toBinary(ServerFrameSchema, create(ServerFrameSchema, { frame: { case: "deliveries", value: { deliveries } } }));

  test("the benchmark's reader finds each delivery's value and times, and the send time in a timed frame", () => {
    const seen: Array<[number, number, number, number]> = [];
    expect(scanServerFrame(batch, (_b, s, e, t, r) => seen.push([s, e, t, r]))).toBe(11);
    expect(seen.map(([s, e, t, r]) => [[...batch.subarray(s, e)], t, r])).toEqual(
      deliveries.map((d) => [[...d.value], Number(d.timestampMs) >= 0 ? Number(d.timestampMs) : (expect.any(Number) as number), Number(d.readAtMs)]),
    );
    expect(sendTimeUsOf(batch, seen[0]![0], seen[0]![1])).toBe(1_732_876_543_210_123);
    expect(sendTimeUsOf(batch, seen[1]![0], seen[1]![1])).toBe(-1);
    // A timed frame's events carry the send time where sendTimeUsOf finds it.
    const factory = timedFrameFactory("t", 3);
    const publish = fromBinary(ClientFrameSchema, factory.frame(7, 1_732_876_543_210_456)).frame;
    if (publish.case !== "publish") throw new Error("not a publish frame");
    expect(publish.value.events.map((e) => e.id)).toEqual(["t" + "7".padStart(23, "0"), "t" + "8".padStart(23, "0"), "t" + "9".padStart(23, "0")]);
    for (const e of publish.value.events) expect(sendTimeUsOf(e.payload, 0, e.payload.length)).toBe(1_732_876_543_210_456);
  });
});
