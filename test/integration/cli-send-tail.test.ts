/**
 * The everyday CLI on the real services: `weir send` publishes a JSON-lines file of access logs
 * through a gateway (converted with the schema image, validated by the gateway, one result per
 * line), and `weir tail results.error-rate` prints what the error-rate job made of them: the
 * round trip, with the counts the file implies.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor } from "./support.js";

const WEIR = fileURLToPath(new URL("../../bin/weir.mjs", import.meta.url));
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const run = `cli-${Date.now().toString(36)}`;
const tenant = run;
let gateway: Gateway;
let dir: string;
const running = new Set<ChildProcess>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "weir-cli-"));
  gateway = await gatewayFor(services, {
    apiKeys: [`${tenant}:k`],
    processorInGateway: true,
    processorJobs: ["weir/examples/jobs/error-rate"],
    processorGroupPrefix: `weir-test-${run}`,
    processorIdleAdvanceMs: 1000,
    processorSourceIdleMs: 1000,
  });
});
afterAll(async () => {
  for (const child of running) child.kill("SIGKILL");
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `weir <args>` as a user runs it; resolves with its exit code and output lines. */
function weir(args: string[], opts: { until?: (lines: string[]) => boolean } = {}): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEIR, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    running.add(child);
    const lines: string[] = [];
    let rest = "";
    child.stdout.on("data", (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split("\n");
      rest = parts.pop()!;
      lines.push(...parts.filter((l) => l !== ""));
      if (opts.until?.(lines)) child.kill("SIGTERM");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      running.delete(child);
      resolve({ code, lines });
    });
  });
}

test("weir send a JSON-lines file of access logs, weir tail the job's results: the counts the file implies", async () => {
  // The next minute (the gateway takes event times up to an hour ahead): later than anything the
  // other tests sent to the shared access-log topic, which this job's new group reads first and
  // whose event time its tasks' watermarks follow (an earlier minute could be late already).
  const minute = Math.ceil(Date.now() / 60_000) * 60_000;
  const expected = new Map<string, { errors: number; requests: number }>();
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    const host = `${run}-web-${i % 2}`;
    const status = i % 5 === 0 ? 503 : 200;
    const c = expected.get(host) ?? { errors: 0, requests: 0 };
    expected.set(host, { errors: c.errors + (status === 503 ? 1 : 0), requests: c.requests + 1 });
    // snake_case and camelCase field names both work (Protobuf JSON); envelope fields under "@weir".
    const fields = i % 2 === 0 ? { bytes_sent: 512 } : { bytesSent: "512" };
    lines.push(
      JSON.stringify({
        host,
        method: "GET",
        path: `/p/${i}`,
        status,
        ...fields,
        "@weir": { id: `${run}-${i}`, key: host, eventTime: new Date(minute + i * 1000).toISOString() },
      }),
    );
  }
  lines.push(JSON.stringify({ host: `${run}-web-0`, method: "GET", path: "/", status: 42 })); // the gateway refuses it
  lines.push("{not json");
  lines.push(JSON.stringify({ host: "x", no_such_field: 1 }));
  const file = join(dir, "logs.jsonl");
  writeFileSync(file, `${lines.join("\n")}\n`);

  const target = ["--url", gateway.url, "--tenant", tenant, "--api-key", "k"];
  const sent = await weir(["send", "--type", "weir.events.v1.HttpAccessLog", "--json", ...target, file]);
  const results = sent.lines.map((l) => JSON.parse(l) as { line: number; id?: string; result: string; errorCode?: string; reason?: string });
  expect(results.map((r) => r.line)).toEqual(Array.from({ length: 43 }, (_, i) => i + 1));
  expect(results.slice(0, 40).every((r, i) => r.result === "ACK" && r.id === `${run}-${i}`)).toBe(true);
  expect(results[40]).toMatchObject({ result: "INVALID", errorCode: "WEIR_ERR_INVALID_PAYLOAD" });
  expect(results[41]).toMatchObject({ result: "NOT_SENT" });
  expect(results[41]!.reason).toMatch(/not JSON/);
  expect(results[42]!.reason).toMatch(/no_such_field/);
  expect(sent.code).toBe(1);

  // Sending the file again: every event answered DUPLICATE (same ids), nothing counted twice.
  const again = await weir(["send", "--type", "weir.events.v1.HttpAccessLog", "--json", ...target, file]);
  expect(again.lines.slice(0, 40).map((l) => (JSON.parse(l) as { result: string }).result)).toEqual(Array(40).fill("DUPLICATE"));

  type TailLine = {
    key: string;
    kind: string;
    resumeToken: string;
    value: { kind: string; key: string; windowStartMs: number; result: { errors: number; requests: number } };
  };
  const finals = (tailed: string[]) => tailed.map((l) => JSON.parse(l) as TailLine).filter((t) => t.value.kind === "final" && t.key.startsWith(run));
  const tailed = await weir(["tail", "results.error-rate", "--from", "earliest", "--json", ...target], { until: (l) => finals(l).length >= 2 });
  const windows = finals(tailed.lines);
  expect(new Map(windows.map((w) => [w.key, w.value.result]))).toEqual(expected);
  expect(windows.every((w) => w.value.windowStartMs === minute && w.resumeToken.length > 0)).toBe(true);
}, 180_000);
