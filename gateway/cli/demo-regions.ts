/**
 * `weir demo --regions 2`: scenario 3 across two regions (decision 0027). Brings up two regions
 * (Kafka and Redis each) with MirrorMaker 2 between them and a `weir gateway` process per region
 * running the risk job over both regions' events, with limit breaches POSTed to a local webhook.
 * A market feed (reference data, then trades and quotes) streams to region a; halfway, region a's
 * gateway and broker are SIGKILLed and the client fails over to region b. The demo prints what b
 * made of it (every trade once, positions and P&L per account, breaches), then brings region a
 * back (the fail-back) and shows a's view catching up to the same figures.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { readCommitted } from "../../src/adapters/kafka/read-committed.js";
import { ResultCode, WeirClient, type ConnectionEvent } from "../../src/client/index.js";
import type { LimitEvent, MtmUpdate, RiskSnapshot } from "../../src/engine/index.js";
import { marketFeed, referenceEvents } from "../../src/generators/market.js";
import { createRng } from "../../src/generators/rng.js";
import { resultsTopic, splitTenantKey } from "../../src/kafka-contract.js";
import { defaultDataDir, freePort, regionDir, regionsUp, stopKafkaNode, type RegionInfo } from "../../src/stack/index.js";
import { startWebhookInbox } from "../../src/sinks/webhook-inbox.js";

export type RegionsDemoOptions = { events: number; dataDir?: string };

const WEIR_BIN = fileURLToPath(new URL("../../bin/weir.mjs", import.meta.url));

type RegionGateway = { readonly url: string; readonly process: ChildProcess; kill(): void };

/** `weir gateway` for one region, its jobs inside, reading the other region's mirrored topics too. */
async function startRegionGateway(region: RegionInfo, remote: string, tenant: string, webhookUrl: string): Promise<RegionGateway> {
  const port = await freePort();
  const child = spawn(process.execPath, [WEIR_BIN, "gateway"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      WEIR_HOST: "127.0.0.1",
      WEIR_PORT: String(port),
      WEIR_GATEWAY_ID: `demo-region-${region.region}`,
      WEIR_KAFKA_BROKERS: region.kafkaBrokers,
      WEIR_REDIS_URL: region.redisUrl,
      WEIR_API_KEYS: `${tenant}:demo-key`,
      WEIR_INGEST_PROCESSES: "1",
      WEIR_METRICS_PORT: "0",
      WEIR_LOG_LEVEL: "error",
      WEIR_PROCESSOR_JOBS: "weir/examples/jobs/risk-limits",
      WEIR_JOB_OPTIONS: JSON.stringify({ "risk-limits": { limits: { default: { maxGrossExposure: 400_000, maxLoss: 20_000 } }, marketDataTenants: [tenant] } }),
      WEIR_PROCESSOR_GROUP_PREFIX: "weir-demo-regions",
      WEIR_REMOTE_REGIONS: remote,
      WEIR_PROCESSOR_SOURCE_IDLE_MS: "2000",
      WEIR_PROCESSOR_IDLE_ADVANCE_MS: "2000",
      WEIR_WEBHOOK_URL: webhookUrl,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`region ${region.region}'s gateway exited (code ${child.exitCode})`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`region ${region.region}'s gateway not ready after 120 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url: `ws://127.0.0.1:${port}/v1/ingest`, process: child, kill: () => child.kill("SIGKILL") };
}

type RegionView = { trades: Map<string, number>; late: number; positions: Map<string, MtmUpdate>; breaches: number };

/** A region's view of this run: the risk job's results there (read committed), for this tenant. */
async function viewOf(brokers: string, tenant: string): Promise<RegionView> {
  const view: RegionView = { trades: new Map(), late: 0, positions: new Map(), breaches: 0 };
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-demo-regions" });
  await readCommitted(kafka, resultsTopic("risk-limits"), (_p, m) => {
    if (splitTenantKey(m.key?.toString() ?? "")?.tenant !== tenant) return;
    const value = JSON.parse(m.value?.toString() ?? "null") as RiskSnapshot | MtmUpdate | LimitEvent;
    if (value.type === "risk" && value.tradeId !== undefined) {
      view.trades.set(value.tradeId, (view.trades.get(value.tradeId) ?? 0) + 1);
      if (value.ordering === "late") view.late++;
    } else if (value.type === "mtm") view.positions.set(`${value.account}|${value.symbol}`, value);
    else if (value.type === "breach") view.breaches++;
  });
  return view;
}

/** Per account: market value and total P&L summed over its positions. */
function perAccount(view: RegionView): Map<string, { marketValue: number; pnl: number; positions: number }> {
  const out = new Map<string, { marketValue: number; pnl: number; positions: number }>();
  for (const m of view.positions.values()) {
    const a = out.get(m.account) ?? { marketValue: 0, pnl: 0, positions: 0 };
    a.marketValue += m.marketValue ?? 0;
    a.pnl += m.totalPnl ?? 0;
    if (m.quantity !== 0) a.positions++;
    out.set(m.account, a);
  }
  return out;
}

/** Polls a region's view until `done`, or (with `quietMs`) until it has not changed for that long, or the timeout. */
async function waitForView(
  brokers: string,
  tenant: string,
  done: (v: RegionView) => boolean,
  timeoutMs: number,
  quietMs = Number.POSITIVE_INFINITY,
): Promise<RegionView> {
  const deadline = Date.now() + timeoutMs;
  let previous = "";
  let quietSince = Date.now();
  for (;;) {
    const view = await viewOf(brokers, tenant);
    const fingerprint = `${view.trades.size}/${view.positions.size}/${view.breaches}/${[...view.positions.values()].map((m) => m.asOfMs).join()}`;
    if (fingerprint !== previous) [previous, quietSince] = [fingerprint, Date.now()];
    if (done(view) || Date.now() - quietSince > quietMs || Date.now() > deadline) return view;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function runRegionsDemo(opts: RegionsDemoOptions): Promise<number> {
  const say = (line: string) => console.log(line);
  const root = resolve(opts.dataDir ?? join(defaultDataDir(), "..", "regions"));
  say("weir demo --regions 2: starting two regions (Kafka and Redis each) and MirrorMaker 2 between them…");
  const [a, b] = (await regionsUp(root, 2, { out: () => {} })) as [RegionInfo, RegionInfo];
  say(`  region a: Kafka ${a.kafkaBrokers}   region b: Kafka ${b.kafkaBrokers}   (data in ${root})`);

  // A tenant of its own per run: each run's figures start from nothing.
  const tenant = `demo-${Date.now().toString(36)}`;
  const inbox = await startWebhookInbox();
  let gatewayA = await startRegionGateway(a, "b", tenant, inbox.url);
  const gatewayB = await startRegionGateway(b, "a", tenant, inbox.url);
  say(`  gateways: region a ${gatewayA.url}, region b ${gatewayB.url}; the risk job runs in both, over both regions' events`);

  let failedOverAt = 0;
  const client = await WeirClient.open({
    urls: [gatewayA.url, gatewayB.url],
    tenant,
    apiKey: "demo-key",
    maxBufferedEvents: 500,
    backoff: { initialMs: 50, maxMs: 500 },
    onConnection: (e: ConnectionEvent) => {
      if (e.kind === "connected" && e.url === gatewayB.url && failedOverAt === 0) failedOverAt = Date.now();
    },
  });
  const rng = createRng(Date.now() % 1_000_000);
  const baseTimeMs = Date.now() - 5 * 60_000;
  const reference = referenceEvents(baseTimeMs);
  for (const receipt of await Promise.all(reference.map((e) => client.send(e)))) await receipt.acked;
  // Reference data is in both regions before the market opens.
  await new Promise((r) => setTimeout(r, 3000));
  const feed = marketFeed(rng, baseTimeMs + 1000, 8);
  const events = Array.from({ length: opts.events }, (_, i) => feed.next(i));
  const trades = events.filter((e) => e.type.endsWith(".Trade")).length;
  say(`streaming ${events.length} trades and quotes (${trades} trades, 8 accounts) to region a…`);

  let downAt = 0;
  const answers: Array<Promise<{ code: ResultCode }>> = [];
  for (let i = 0; i < events.length; i += 250) {
    for (const receipt of await Promise.all(events.slice(i, i + 250).map((e) => client.send(e)))) answers.push(receipt.acked);
    if (downAt === 0 && i >= events.length / 2) {
      downAt = Date.now();
      gatewayA.kill();
      await stopKafkaNode(join(regionDir(root, "a"), "kafka"), { timeoutMs: 0 });
      say(`  halfway: region a's gateway and broker SIGKILLed (${client.stats.acked - reference.length} events answered by a)`);
    }
  }
  const codes = await Promise.all(answers);
  await client.close();
  const answered = codes.filter((r) => r.code === ResultCode.ACK || r.code === ResultCode.DUPLICATE).length;
  say(`  the client failed over to region b ${failedOverAt - downAt} ms after a went down; ${answered} of ${events.length} events answered`);

  say("\nregion b's view (weir.results.risk-limits in region b, read committed), a still down:");
  // What b has of the trades: all of them, or all but those a had not mirrored yet (then it stops changing).
  const bView = await waitForView(b.kafkaBrokers, tenant, (v) => v.trades.size === trades, 60_000, 5_000);
  report(bView, trades, say);
  say(`  (trades a acked but had not mirrored when it died reach b when a is back: MirrorMaker's lag)`);

  say("\nfail-back: region a's broker and gateway start again…");
  await regionsUp(root, 2, { out: () => {}, log: () => {} });
  gatewayA = await startRegionGateway(a, "b", tenant, inbox.url);
  const settledB = await waitForView(b.kafkaBrokers, tenant, (v) => v.trades.size === trades, 120_000);
  const same = (v: RegionView) => v.trades.size === trades && sameFigures(perAccount(v), perAccount(settledB));
  const aView = await waitForView(a.kafkaBrokers, tenant, same, 120_000);
  say("region b's view, with what a had not mirrored:");
  report(settledB, trades, say);
  say("region a's view after the fail-back:");
  report(aView, trades, say);
  say(`  regions agree on every account's market value and P&L: ${same(aView) ? "yes" : "NO"}`);
  // Both regions' webhook sinks deliver their region's alerts; the same alert carries the same key.
  let requests = -1;
  for (let quiet = 0; quiet < 3 && inbox.requests.length < 10_000; ) {
    await new Promise((r) => setTimeout(r, 1000));
    quiet = inbox.requests.length === requests ? quiet + 1 : 0;
    requests = inbox.requests.length;
  }
  say(
    `\nwebhook ${inbox.url}: ${inbox.requests.length} requests, ${inbox.byKey.size} distinct alerts (each region's sink delivers its region's alerts; the same alert has the same Idempotency-Key in both)`,
  );

  for (const g of [gatewayA, gatewayB]) g.process.kill("SIGTERM");
  await inbox.close();
  say(`\nthe regions keep running: \`npx weir stack down --data-dir ${root}\` stops them (--purge deletes their data).`);
  return 0;
}

function report(view: RegionView, trades: number, say: (line: string) => void): void {
  const twice = [...view.trades.values()].filter((n) => n > 1).length;
  say(`  ${view.trades.size} of ${trades} trades, ${twice} counted twice, ${view.late} applied late; ${view.breaches} limit breaches`);
  for (const [account, a] of [...perAccount(view)].sort())
    say(
      `    ${account.padEnd(28)} market value ${a.marketValue.toFixed(2).padStart(14)}   P&L ${a.pnl.toFixed(2).padStart(12)}   ${a.positions} open positions`,
    );
}

function sameFigures(x: Map<string, { marketValue: number; pnl: number }>, y: Map<string, { marketValue: number; pnl: number }>): boolean {
  if (x.size !== y.size) return false;
  const close = (p: number, q: number) => Math.abs(p - q) <= 1e-6 * Math.max(1, Math.abs(q));
  return [...x].every(([k, v]) => y.has(k) && close(v.marketValue, y.get(k)!.marketValue) && close(v.pnl, y.get(k)!.pnl));
}
