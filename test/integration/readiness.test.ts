/**
 * /readyz tells the truth on an idle gateway: Redis or Kafka frozen (SIGSTOP: sockets open,
 * nothing answered) turns it 503 with the culprit named, without any traffic to notice it, and
 * back to 200 after SIGCONT; each outage logs one line when it starts and one when it ends.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestStack, type TestStack } from "../../src/stack/index.js";
import { createLogger } from "../../src/log.js";
import type { Gateway } from "../../gateway/gateway.js";
import { gatewayFor, waitFor } from "./support.js";

let stack: TestStack;
let gateway: Gateway;
const lines: { msg: string; dependency?: string }[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as { msg: string });
      done();
    },
  });
  gateway = await gatewayFor(stack, { apiKeys: ["t:k"], logger: createLogger("warn", {}, sink) });
});
afterAll(async () => {
  for (const s of ["kafka", "redis"] as const) {
    try {
      stack?.resume(s);
    } catch {
      // not running
    }
  }
  await gateway?.close();
  await stack?.close();
});

async function readiness(): Promise<{ status: number; checks: Record<string, boolean> }> {
  const res = await fetch(`http://127.0.0.1:${gateway.port}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks };
}

const outageLines = (dependency: string) => lines.filter((l) => l.dependency === dependency).map((l) => l.msg);

test.each(["redis", "kafka"] as const)("an idle gateway turns unready while %s is frozen, and ready again after", async (service) => {
  await waitFor(async () => (await readiness()).status === 200, "ready before the outage");
  stack.pause(service);
  const frozenAt = Date.now();
  try {
    await waitFor(async () => (await readiness()).status === 503, `503 while ${service} is frozen`, 30_000);
    const unreadyAfterMs = Date.now() - frozenAt;
    const { checks } = await readiness();
    expect(checks[service]).toBe(false);
    console.log(`${service} frozen: /readyz 503 after ${unreadyAfterMs} ms`);
  } finally {
    stack.resume(service);
  }
  await waitFor(async () => (await readiness()).status === 200, `ready after ${service} resumed`, 60_000);
  // /healthz never followed the outage: the process is alive and must not be restarted for it.
  expect((await fetch(`http://127.0.0.1:${gateway.port}/healthz`)).status).toBe(200);
  await waitFor(() => outageLines(service).length >= 2, `${service} outage log lines`);
  expect(outageLines(service)).toEqual([`${service} unreachable`, `${service} reachable again`]);
});
