/**
 * The same client suite (test/client/portable/client-suite.ts) on Node, on Deno and in headless
 * Chromium, against real gateways, Kafka and Redis: batching, refusals, failover from an
 * unreachable gateway and from one SIGKILLed mid-stream, the durable outbox (file / IndexedDB)
 * across a restart, subscribe with resume. The host then reads Kafka back: every event the suite
 * sent is there exactly once.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { Gateway } from "../../gateway/gateway.js";
import { freePort } from "../../src/stack/index.js";
import { QUOTE_TOPIC } from "../unit-fixtures/events.js";
import { runInBrowser } from "../runtimes/browser-runner.js";
import { runInDeno } from "../runtimes/deno-runner.js";
import { runInNode } from "../runtimes/node-runner.js";
import type { RunOptions } from "../runtimes/host.js";
import type { SuiteReport } from "../runtimes/suite-types.js";
import { startGatewayChild, type GatewayChild } from "./gateway-child.js";
import { countById, gatewayFor, readTopics } from "./support.js";

const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const run = `runtimes-${Date.now()}`;
const tenant = run;
let b: Gateway;
const children: GatewayChild[] = [];

beforeAll(async () => {
  b = await gatewayFor(services, { apiKeys: [`${tenant}:k`], gatewayId: `${run}-b` });
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await b?.close();
});

const runtimes: Array<[name: string, runner: (suite: string, opts: RunOptions) => Promise<SuiteReport>, suite: string]> = [
  ["node", runInNode, "test/client/portable/suite-node.ts"],
  ["deno", runInDeno, "test/client/portable/suite-deno.ts"],
  ["chromium", runInBrowser, "test/client/portable/suite-browser.ts"],
];

describe.each(runtimes)("the client suite on %s", (name, runner, suite) => {
  test("every case passes and every event is in Kafka exactly once", async () => {
    // A fresh gateway A per runtime: the suite has it killed mid-stream.
    const a = await startGatewayChild({ services, gatewayId: `${run}-${name}-a`, apiKeys: [`${tenant}:k`], env: { WEIR_DEDUP_OWNER_TTL_MS: "2000" } });
    children.push(a);
    const prefix = `${run}-${name}`;
    const report = await runner(suite, {
      params: {
        urlA: a.url,
        urlB: b.url,
        deadUrl: `ws://127.0.0.1:${await freePort()}/v1/ingest`,
        subscribeUrl: b.url.replace("/v1/ingest", "/v1/subscribe"),
        tenant,
        apiKey: "k",
        prefix,
        symbol: `${name.toUpperCase()}${Date.now() % 1e9}`,
      },
      control: async (what) => {
        if (what === "freeze-a") a.process.kill("SIGSTOP");
        else if (what === "kill-a") await a.kill("SIGKILL");
        else throw new Error(`unknown control ${what}`);
        return true;
      },
      timeoutMs: 600_000,
      log: (line) => process.stderr.write(`[${name}] ${line}\n`),
    });
    const failed = report.cases.filter((c) => !c.ok);
    expect(failed, failed.map((c) => `${c.name}: ${c.error}`).join("\n")).toEqual([]);
    expect(report.cases.map((c) => c.name)).toHaveLength(6);

    const sent = report.cases.flatMap((c) => (c.data as { ids?: string[] } | undefined)?.ids ?? []);
    const counts = countById(await readTopics(services.kafkaBrokers, [QUOTE_TOPIC], tenant));
    const mine = [...counts].filter(([id]) => id.startsWith(`${prefix}-`));
    expect(sent.length).toBe(300 + 1 + 50 + 2000 + 20);
    expect(mine.length).toBe(sent.length);
    expect(sent.filter((id) => counts.get(id) !== 1)).toEqual([]);
  });
});
