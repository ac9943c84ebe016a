/**
 * Scenario 3 across two regions (decision 0027), on two real Kafka clusters with MirrorMaker 2
 * between them. Each region runs the risk job over both regions' events. A client streams
 * reference data, then trades and quotes, to region A; A's gateway, broker and processor are
 * SIGKILLed mid-stream; the client fails over to region B's gateway and re-sends what A left
 * unanswered, with the same ids, and a device that lost A's answers re-sends 200 events A had
 * taken. Once A's broker and processor are back (the fail-back: MirrorMaker copies what A had
 * acked but not mirrored yet, and B's events to A), each region's view holds every trade exactly
 * once — one risk snapshot per trade — with final positions and P&L per account equal to an
 * independent calculation from what was sent.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ResultCode, WeirClient, type ConnectionEvent } from "../../src/client/index.js";
import type { MtmUpdate, RiskSnapshot } from "../../src/engine/index.js";
import { QuoteSchema, Side, TradeSchema } from "../../src/events.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { marketFeed, referenceEvents } from "../../src/generators/market.js";
import { createRng } from "../../src/generators/rng.js";
import { splitTenantKey } from "../../src/kafka-contract.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { startMirrorMaker, startTestStack, stopMirrorMaker, type TestStack } from "../../src/stack/index.js";
import { books, finalFigures, markAsOf, markHistory, relErr } from "../unit-fixtures/risk-oracle.js";
import { startGatewayChild, type GatewayChild } from "./gateway-child.js";
import { startProcessorChild, type ProcessorChild } from "./processor-child.js";
import { resultsOf } from "./replay.js";
import { readTopics, streamAll, waitFor } from "./support.js";

const eventTimeOf = (e: Envelope) => Number(e.eventTime!.seconds) * 1000 + Math.floor(e.eventTime!.nanos / 1e6);
const run = `regions-${Date.now()}`;
const tenant = run;
const jobOptions = { "risk-limits": { limits: { default: { maxGrossExposure: 400_000, maxLoss: 20_000 } }, marketDataTenants: [tenant] } };

let regionA: TestStack;
let regionB: TestStack;
let mirrorDir: string;
const children: Array<GatewayChild | ProcessorChild> = [];

beforeAll(async () => {
  [regionA, regionB] = await Promise.all([startTestStack(), startTestStack()]);
  mirrorDir = mkdtempSync(join(tmpdir(), "weir-mirror-"));
  await startMirrorMaker({
    dir: mirrorDir,
    regions: [
      { name: "a", brokers: regionA.kafkaBrokers },
      { name: "b", brokers: regionB.kafkaBrokers },
    ],
  });
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  if (mirrorDir) {
    await stopMirrorMaker(mirrorDir, 5_000);
    rmSync(mirrorDir, { recursive: true, force: true });
  }
  await Promise.all([regionA?.close(), regionB?.close()]);
});

test("region A killed mid-stream: the client fails over to B; B's view, and A's after the fail-back, have every trade once and exact positions and P&L", async () => {
  const gateway = (region: string, stack: TestStack) =>
    startGatewayChild({ services: stack, gatewayId: `${run}-${region}`, apiKeys: [`${tenant}:k`], env: { WEIR_DEDUP_OWNER_TTL_MS: "2000" } });
  const [gatewayA, gatewayB] = await Promise.all([gateway("a", regionA), gateway("b", regionB)]);
  children.push(gatewayA, gatewayB);
  // Each region runs the risk job over both regions' events; idle sources (A's, once A is gone)
  // stop holding its event time back after 2 s, and idle partitions close after 2 s.
  const processor = (region: "a" | "b", stack: TestStack) =>
    startProcessorChild({
      brokers: stack.kafkaBrokers,
      job: "risk-limits",
      groupPrefix: `${run}-${region}`,
      instanceId: `${run}-processor-${region}`,
      env: {
        WEIR_REMOTE_REGIONS: region === "a" ? "b" : "a",
        WEIR_JOB_OPTIONS: JSON.stringify(jobOptions),
        WEIR_PROCESSOR_SOURCE_IDLE_MS: "2000",
        WEIR_PROCESSOR_IDLE_ADVANCE_MS: "2000",
      },
    });
  const processorA = processor("a", regionA);
  const processorB = processor("b", regionB);
  children.push(processorA, processorB);

  const rng = createRng(17);
  const baseTimeMs = Date.now() - 600_000;
  const feed = marketFeed(rng, baseTimeMs + 1000, 6);
  const generated = Array.from({ length: 3000 }, (_, i) => feed.next(i));
  const reference = referenceEvents(baseTimeMs);

  const connections: ConnectionEvent[] = [];
  const client = await WeirClient.open({
    urls: [gatewayA.url, gatewayB.url],
    tenant,
    apiKey: "k",
    maxBufferedEvents: 300,
    backoff: { initialMs: 50, maxMs: 500 },
    onConnection: (e) => connections.push(e),
  });
  // Reference data first, as at the start of a trading day, and in both regions before trading starts.
  for (const receipt of await Promise.all(reference.map((e) => client.send(e)))) expect((await receipt.acked).code).toBe(ResultCode.ACK);
  const registry = SchemaRegistry.builtin();
  const referenceTopics = [...new Set(reference.map((e) => registry.eventType(e.type)!.topic))];
  await waitFor(
    async () =>
      (await recordCount(
        regionB.kafkaBrokers,
        referenceTopics.map((t) => `a.${t}`),
      )) === reference.length,
    "reference data mirrored to B",
  );

  // Once 1,000 trades and quotes are answered, region A fails: its gateway first, with the burst
  // just sent unanswered, then its broker (what it had not mirrored yet stays there until it is back).
  let killed: Promise<unknown> | undefined;
  let ackedByA = 0;
  let downAt = 0;
  const answers: Array<Promise<{ code: ResultCode }>> = [];
  for (let i = 0; i < generated.length; i += 100) {
    const burst = await Promise.all(generated.slice(i, i + 100).map((e) => client.send(e)));
    for (const receipt of burst) answers.push(receipt.acked);
    if (!killed && client.stats.acked >= reference.length + 1000) {
      ackedByA = client.stats.acked - reference.length;
      downAt = Date.now();
      killed = Promise.all([gatewayA.kill("SIGKILL").then(() => regionA.brokers[0]!.stop({ kill: true })), processorA.kill("SIGKILL")]);
    }
  }
  const results = await Promise.all(answers);
  await killed;
  await client.close();

  expect(killed).toBeDefined();
  expect(ackedByA).toBeLessThan(answers.length);
  expect(results.every((r) => r.code === ResultCode.ACK || r.code === ResultCode.DUPLICATE)).toBe(true);
  const connected = connections.filter((e) => e.kind === "connected").map((e) => (e as { url: string }).url);
  expect(connected[0]).toBe(gatewayA.url);
  expect(connected.at(-1)).toBe(gatewayB.url);

  // A device that had sent its last 200 events to A, and lost A's answers with A, sends them again
  // to B with the same ids: B has no claim of them (A's Redis had them), so they land in B's
  // topics too, while A's log holds them as well.
  const resent = generated.slice(ackedByA - 200, ackedByA);
  const again = await streamAll(gatewayB.url, { tenant, apiKey: "k" }, resent, { connections: 1 });
  expect(again.every((r) => r.code === ResultCode.ACK)).toBe(true);

  // Fail-back: region A's broker returns; MirrorMaker copies what A had and B has not seen, and
  // what B took while A was gone to A; A's risk job starts again from its own changelog and offsets.
  await regionA.brokers[0]!.start();
  const processorA2 = processor("a", regionA);
  children.push(processorA2);
  console.log(`two regions: A failed after ${ackedByA} trades and quotes answered (of ${answers.length}), down ${Date.now() - downAt} ms`);

  // The independent calculation, from what the client sent.
  const quotes = generated.filter((e) => e.type === QuoteSchema.typeName).map((e) => ({ ...fromBinary(QuoteSchema, e.payload), timestampMs: eventTimeOf(e) }));
  const trades = generated
    .filter((e) => e.type === TradeSchema.typeName)
    .map((e) => {
      const t = fromBinary(TradeSchema, e.payload);
      const side = t.side === Side.BUY ? ("BUY" as const) : ("SELL" as const);
      return {
        tradeId: t.tradeId,
        accountId: `${tenant}/${t.accountId}`,
        symbol: t.symbol,
        side,
        quantity: t.quantity,
        price: t.price,
        timestampMs: eventTimeOf(e),
      };
    });
  const history = markHistory(quotes);
  const expectedBooks = books(trades);

  /** A region's view: the risk job's results there, read committed — every trade once, every final position exact. */
  const expectExactView = async (region: string, brokers: string) => {
    let snapshots: RiskSnapshot[] = [];
    const last = new Map<string, MtmUpdate>();
    await waitFor(
      async () => {
        const outputs = (await resultsOf(brokers, "risk-limits")).filter((o) => splitTenantKey(o.key)?.tenant === tenant);
        snapshots = outputs.filter((o) => o.stream === "risk").map((o) => o.value as RiskSnapshot);
        last.clear();
        for (const o of outputs) if (o.stream === "mtm") last.set(`${(o.value as MtmUpdate).account}|${(o.value as MtmUpdate).symbol}`, o.value as MtmUpdate);
        return (
          new Set(snapshots.map((s) => s.tradeId)).size === trades.length &&
          [...expectedBooks].every(
            ([key, b]) => last.get(key)?.quantity === b.qty && last.get(key)?.mark === markAsOf(history, key.split("|")[1]!, Number.POSITIVE_INFINITY)?.mid,
          )
        );
      },
      `every trade and every position's final mark-to-market in region ${region}`,
      180_000,
    );
    // Every trade exactly once.
    const perTrade = new Map<string, number>();
    for (const s of snapshots) if (s.tradeId !== undefined) perTrade.set(s.tradeId, (perTrade.get(s.tradeId) ?? 0) + 1);
    expect([...perTrade.keys()].sort()).toEqual(trades.map((t) => t.tradeId).sort());
    expect([...perTrade].filter(([, n]) => n > 1)).toEqual([]);
    // Final positions, market value and P&L per account and symbol: the replay's. Realised and
    // unrealised P&L each depend on the order trades were applied in (a trade from A that reached B
    // after B's own later trades is applied late); their sum does not.
    expect([...last.keys()].sort()).toEqual([...expectedBooks.keys()].sort());
    for (const [key, b] of expectedBooks) {
      const symbol = key.split("|")[1]!;
      const want = finalFigures(symbol, b, markAsOf(history, symbol, Number.POSITIVE_INFINITY)!.mid);
      const got = last.get(key)!;
      expect(got.quantity, `${region}: ${key}`).toBe(b.qty);
      expect(relErr(got.marketValue, want.marketValue), `${region}: ${key} market value`).toBeLessThanOrEqual(1e-9);
      const pnl = (got.realisedPnl ?? 0) + (got.unrealisedPnl ?? 0);
      expect(
        relErr(pnl, want.realisedPnl + want.unrealisedPnl),
        `${region}: ${key} P&L ${pnl} vs ${want.realisedPnl + want.unrealisedPnl}`,
      ).toBeLessThanOrEqual(1e-9);
    }
  };

  await expectExactView("B", regionB.kafkaBrokers);

  // Events that reached B twice: published by A before it died (mirrored once A was back) and
  // re-sent by the client to B. B's job applied one copy of each.
  const tradeTopic = registry.eventType(TradeSchema.typeName)!.topic;
  const inB = await readTopics(regionB.kafkaBrokers, [tradeTopic, `a.${tradeTopic}`], tenant);
  const regionsOf = new Map<string, Set<string>>();
  for (const r of inB) regionsOf.set(r.headers["weir.id"]!, (regionsOf.get(r.headers["weir.id"]!) ?? new Set()).add(r.topic));
  const both = [...regionsOf.values()].filter((topics) => topics.size === 2).length;
  console.log(`two regions: ${inB.length} trade records in B for ${regionsOf.size} trades; ${both} in both regions' topics`);
  expect(both).toBeGreaterThanOrEqual(resent.filter((e) => e.type === TradeSchema.typeName).length);

  // After the fail-back, region A's view is whole and exact too.
  await expectExactView("A", regionA.kafkaBrokers);
}, 420_000);

/** Records in these topics (that exist), read committed. */
async function recordCount(brokers: string, topics: readonly string[]): Promise<number> {
  try {
    return (await readTopics(brokers, topics, tenant)).length;
  } catch {
    return 0; // not created yet
  }
}
