/**
 * The runtime harness (node-runner.ts, deno-runner.ts, browser-runner.ts) running its example
 * suite (fixtures/example-suite.ts) on Node, in Deno (the `deno` npm package) and in headless
 * Chromium: the same cases pass everywhere (WebSocket where the runtime has it, protobuf with
 * byte-identical output, host control calls and their errors, storage), the deliberately failing
 * case shows up as failed, and a suite that throws or hangs makes the runner reject with the
 * suite's log in the error.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebSocketServer } from "ws";
import { EnvelopeSchema } from "../../src/gen/weir/v1/envelope_pb.js";
import { runInBrowser } from "./browser-runner.js";
import { runInDeno } from "./deno-runner.js";
import type { ControlHandler, RunOptions } from "./host.js";
import { runInNode } from "./node-runner.js";
import { exampleEnvelope } from "./fixtures/example-suite.js";
import type { SuiteReport, SuiteRuntime } from "./suite-types.js";

const SUITE = "test/runtimes/fixtures/example-suite.ts";
const runners: Record<SuiteRuntime, (path: string, opts?: RunOptions) => Promise<SuiteReport>> = {
  node: runInNode,
  deno: runInDeno,
  browser: runInBrowser,
};

let wss: WebSocketServer;
let wsUrl: string;
beforeAll(async () => {
  wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise((r) => wss.once("listening", r));
  wsUrl = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => wss.close(() => r())));

const controlCalls: Array<[string, unknown]> = [];
const control: ControlHandler = (name, arg) => {
  controlCalls.push([name, arg]);
  switch (name) {
    case "echo":
      return arg;
    case "add": {
      const [a, b] = arg as [number, number];
      return a + b;
    }
    case "nothing":
      return undefined;
    case "fail":
      return Promise.reject(new Error(`boom from host: ${String(arg)}`));
    default:
      throw new Error(`unknown control ${name}`);
  }
};

/** Command lines of live processes that mention `text` (Linux /proc). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const expectedBase64 = Buffer.from(toBinary(EnvelopeSchema, exampleEnvelope())).toString("base64");
const passing: Record<SuiteRuntime, string[]> = {
  node: [
    "runtime",
    "params",
    "control-roundtrip",
    "control-error",
    "random-uuid",
    "protobuf",
    ...(typeof WebSocket === "function" ? ["websocket-echo"] : []),
    "storage",
  ],
  deno: ["runtime", "params", "control-roundtrip", "control-error", "random-uuid", "protobuf", "websocket-echo", "storage", "deno-sandbox"],
  browser: ["runtime", "params", "control-roundtrip", "control-error", "random-uuid", "protobuf", "websocket-echo", "storage"],
};

describe.each(["node", "deno", "browser"] as const)("example suite on %s", (runtime) => {
  test("every portable case passes and the deliberate failure is reported as failed", async () => {
    const logs: string[] = [];
    controlCalls.length = 0;
    const t0 = performance.now();
    const report = await runners[runtime](SUITE, { params: { greeting: "hello ✓", wsUrl }, control, timeoutMs: 60_000, log: (l) => logs.push(l) });
    console.log(`${runtime}: example suite in ${Math.round(performance.now() - t0)} ms`);

    const byName = new Map(report.cases.map((c) => [c.name, c]));
    expect(report.cases.map((c) => c.name)).toEqual([...passing[runtime], "deliberate-failure"]);
    for (const name of passing[runtime]) {
      const c = byName.get(name)!;
      expect(c.error, `${runtime} ${name}`).toBeUndefined();
      expect(c.ok, `${runtime} ${name}`).toBe(true);
      expect(c.ms).toBeGreaterThanOrEqual(0);
    }
    const failed = byName.get("deliberate-failure")!;
    expect(failed.ok).toBe(false);
    expect(failed.error).toContain("deliberate failure (harness.test.ts expects it)");

    expect(byName.get("runtime")!.data).toEqual({ detected: runtime });
    expect(byName.get("protobuf")!.data).toEqual({ base64: expectedBase64 });
    expect(byName.get("control-error")!.data).toEqual({ message: "Error: boom from host: x" });
    expect(byName.get("storage")!.data).toEqual({ via: runtime === "browser" ? "indexeddb" : "node:fs" });
    if (byName.has("websocket-echo")) expect(byName.get("websocket-echo")!.data).toEqual({ text: "ping ✓", binary: [1, 2, 3, 255] });
    // Arguments arrive as JSON on the host, whatever the runtime.
    expect(controlCalls).toEqual([
      ["echo", { n: 1, s: "ß ✓", list: [1, 2, null], nested: { ok: true } }],
      ["add", [2, 3]],
      ["nothing", null],
      ["fail", "x"],
    ]);
    expect(logs).toContain(`example suite starting on ${runtime}`);
    expect(logs.some((l) => l.startsWith("FAIL deliberate-failure"))).toBe(true);
  }, 120_000);

  test("a throw out of run() rejects the run, with the suite's log", async () => {
    const err = await runners[runtime](SUITE, { params: { throwInRun: true }, timeoutMs: 60_000 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain("run() threw on purpose");
    expect(err!.message).toContain(`example suite starting on ${runtime}`);
  }, 120_000);

  test("a suite that never returns times out, with its log, and leaves nothing running", async () => {
    const t0 = performance.now();
    const err = await runners[runtime](SUITE, { params: { hangMs: 60_000 }, timeoutMs: runtime === "node" ? 1_000 : 8_000 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/timed out after \d+ ms/);
    expect(err!.message).toContain("hanging on purpose");
    expect(performance.now() - t0).toBeLessThan(40_000);
    if (runtime === "deno") {
      const runDir = /--- deno output \((.+?)\) ---/.exec(err!.message)?.[1];
      expect(runDir).toBeTruthy();
      expect(existsSync(runDir!)).toBe(false);
      expect(processesMentioning(runDir!)).toEqual([]);
    }
  }, 120_000);
});
