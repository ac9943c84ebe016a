/**
 * WeirClient against a stand-in of the gateway protocol (./fake-gateway.ts): batching with a
 * linger time, credit, per-event promises, RETRY_AFTER, refusals, failover between gateways,
 * events recovered from the outbox, and send() waiting when too much is unanswered.
 */
import { afterEach, expect, test } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { EnvelopeSchema } from "../../src/gen/weir/v1/envelope_pb.js";
import {
  ClientClosedError,
  ConnectionClosedError,
  EventRefusedError,
  MemoryOutbox,
  ResultCode,
  WeirClient,
  type ConnectionEvent,
  type ConnectionStateChange,
  type RetryNotice,
} from "../../src/client/index.js";
import { encodePublishFrame } from "../../src/client/frames.js";
import { quoteEvent } from "../unit-fixtures/events.js";
import { FakeGateway } from "./fake-gateway.js";
import { waitFor } from "../unit-fixtures/wait-for.js";

const auth = { tenant: "acme", apiKey: "k" };
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function gateway(opts: Parameters<typeof FakeGateway.start>[0] = {}): Promise<FakeGateway> {
  const g = await FakeGateway.start(opts);
  cleanup.push(() => g.close());
  return g;
}

async function client(opts: Partial<Parameters<typeof WeirClient.open>[0]> & { urls: string | string[] }): Promise<WeirClient> {
  const c = await WeirClient.open({ ...auth, backoff: { initialMs: 10, maxMs: 50 }, ...opts });
  cleanup.push(() => c.close());
  return c;
}

const events = (n: number, prefix = "e") => Array.from({ length: n }, (_, i) => quoteEvent(`${prefix}-${i}`));

test("a publish frame built from encoded envelopes is byte for byte protobuf-es's", () => {
  const envs = events(3);
  for (const seq of [1n, 300n, 2n ** 40n]) {
    const expected = toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: { case: "publish", value: { seq, events: envs } } }));
    expect(
      encodePublishFrame(
        seq,
        envs.map((e) => toBinary(EnvelopeSchema, e)),
      ),
    ).toEqual(expected);
  }
});

test("events sent together share batches (linger), and every per-event promise resolves ACK", async () => {
  const g = await gateway();
  const c = await client({ urls: g.url, lingerMs: 20 });
  const results = await Promise.all(events(200).map((e) => c.publish(e)));
  expect(results.map((r) => r.code)).toEqual(Array(200).fill(ResultCode.ACK));
  expect(g.acked.size).toBe(200);
  expect(g.batches.length).toBeLessThanOrEqual(4);
  expect(c.stats).toMatchObject({ acked: 200, unanswered: 0 });
});

test("batches respect the gateway's max_batch_events and credit: never more in flight than granted", async () => {
  const g = await gateway({ credit: 30, maxBatchEvents: 8, hold: true });
  const c = await client({ urls: g.url, lingerMs: 0 });
  const all = Promise.all(events(100).map((e) => c.publish(e)));
  await waitFor(() => g.batches.flat().length === 30, "the first 30 events");
  // Held: no more than the 30 credits are sent until results return credit.
  await new Promise((r) => setTimeout(r, 50));
  expect(g.batches.flat().length).toBe(30);
  while (g.acked.size < 100) {
    g.release();
    await new Promise((r) => setTimeout(r, 5));
  }
  await all;
  expect(Math.max(...g.batches.map((b) => b.length))).toBeLessThanOrEqual(8);
  expect(g.maxOutstanding).toBeLessThanOrEqual(30);
});

test("RETRY_AFTER events are re-sent with the same id until they get a final answer", async () => {
  const g = await gateway({
    answer: (_env, attempt) => (attempt < 3 ? { code: ResultCode.RETRY_AFTER, retryAfterMs: 10, errorCode: "WEIR_ERR_OVERLOADED" } : undefined),
  });
  const c = await client({ urls: g.url });
  const results = await Promise.all(events(10).map((e) => c.publish(e)));
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  for (let i = 0; i < 10; i++) expect(g.attempts.get(`e-${i}`)).toBe(3);
  expect(c.stats.retried).toBe(20);
});

test("a refused event rejects with its code and leaves the outbox; the others are acked", async () => {
  const g = await gateway({
    answer: (env) => (env.id === "e-3" ? { code: ResultCode.INVALID, errorCode: "WEIR_ERR_INVALID", reason: "bid: must be > 0" } : undefined),
  });
  const outbox = new MemoryOutbox();
  const c = await client({ urls: g.url, outbox });
  const settled = await Promise.allSettled(events(5).map((e) => c.publish(e)));
  const refused = settled[3]!;
  expect(refused.status).toBe("rejected");
  const err = (refused as PromiseRejectedResult).reason as EventRefusedError;
  expect(err).toBeInstanceOf(EventRefusedError);
  expect([err.code, err.errorCode]).toEqual([ResultCode.INVALID, "WEIR_ERR_INVALID"]);
  expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(4);
  await c.flush();
  expect(await outbox.load()).toEqual([]);
});

test("fails over: an unreachable first gateway, then a gateway killed mid-stream; every event acked, in-flight ones re-sent", async () => {
  const dead = await gateway();
  await dead.close(); // nothing listens on its port any more
  const a = await gateway({ hold: true });
  const b = await gateway();
  const seen: ConnectionEvent[] = [];
  const c = await client({ urls: [dead.url, a.url, b.url], onConnection: (e) => seen.push(e) });
  const all = Promise.all(events(50).map((e) => c.publish(e)));
  await waitFor(() => a.batches.flat().length === 50, "the events at gateway a");
  a.kill(); // a had them all, answered none
  await a.close();
  const results = await all;
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  expect(b.acked.size).toBe(50);
  expect(seen.filter((e) => e.kind === "connected").map((e) => (e as { url: string }).url)).toEqual([a.url, b.url]);
  expect(seen.some((e) => e.kind === "connect-failed" && e.url === dead.url)).toBe(true);
});

test("sending works offline: events wait in the outbox until a gateway comes up", async () => {
  const gone = await gateway();
  await gone.close();
  const failures: ConnectionEvent[] = [];
  const c = await client({ urls: gone.url, onConnection: (e) => e.kind === "connect-failed" && failures.push(e) });
  const receipts = await Promise.all(events(20).map((e) => c.send(e)));
  await waitFor(() => failures.length >= 3, "a few failed connection attempts");
  expect(c.stats.unanswered).toBe(20);
  // A gateway comes up at that address.
  await gateway({ port: Number(new URL(gone.url).port) });
  const results = await Promise.all(receipts.map((r) => r.acked));
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
});

test("events left in the outbox by an earlier run are re-sent first, with their ids, and reported through onResult", async () => {
  const g = await gateway();
  const outbox = new MemoryOutbox();
  await outbox.append(events(5, "old").map((e) => ({ id: e.id, bytes: toBinary(EnvelopeSchema, e) })));
  const answered: string[] = [];
  const c = await client({ urls: g.url, outbox, onResult: (r) => answered.push(r.id) });
  expect(c.stats.recovered).toBe(5);
  await c.publish(quoteEvent("new-0"));
  await c.flush();
  expect(answered).toEqual(["old-0", "old-1", "old-2", "old-3", "old-4", "new-0"]);
  expect(g.batches.flat()[0]!.id).toBe("old-0");
  expect(await outbox.load()).toEqual([]);
});

test("send() waits while maxBufferedEvents are unanswered (backpressure reaches the caller)", async () => {
  const g = await gateway({ hold: true });
  const c = await client({ urls: g.url, maxBufferedEvents: 5, lingerMs: 0 });
  const envs = events(6);
  for (const e of envs.slice(0, 5)) await c.send(e);
  let sixth = false;
  const pending = c.send(envs[5]!).then(() => (sixth = true));
  await waitFor(() => g.batches.flat().length === 5, "five events at the gateway");
  expect(sixth).toBe(false);
  g.release();
  await pending;
  expect(sixth).toBe(true);
});

test("a resent id that is still unanswered is not queued twice", async () => {
  const g = await gateway({ hold: true });
  const c = await client({ urls: g.url });
  const e = quoteEvent("same");
  const [r1, r2] = await Promise.all([c.send(e), c.send(e)]);
  expect(r1.acked).toBe(r2.acked);
  await waitFor(() => g.batches.length === 1, "the batch");
  g.release();
  await r1.acked;
  expect(g.batches.flat().map((x) => x.id)).toEqual(["same"]);
});

test("bad credentials end the client (4401): pending events reject, the outbox keeps them", async () => {
  const g = await gateway({ apiKey: "right" });
  const outbox = new MemoryOutbox();
  const c = await WeirClient.open({ urls: g.url, tenant: "acme", apiKey: "wrong", outbox });
  cleanup.push(() => c.close());
  const receipt = await c.send(quoteEvent("x"));
  const reason = await c.done;
  expect(reason).toBeInstanceOf(ConnectionClosedError);
  expect((reason as ConnectionClosedError).info.code).toBe(4401);
  await expect(receipt.acked).rejects.toBeInstanceOf(ClientClosedError);
  await expect(c.send(quoteEvent("y"))).rejects.toBeInstanceOf(ConnectionClosedError);
  expect((await outbox.load()).map((e) => e.id)).toEqual(["x"]);
});

// ---- failure modes found in review: each must neither lose events nor crash, hang or storm ----

test("a gateway that accepts the socket but never welcomes: connect timeouts, no crash, the next gateway takes the events", async () => {
  const stalled = await gateway({ silent: true });
  const good = await gateway();
  const failures: ConnectionEvent[] = [];
  const c = await client({ urls: [stalled.url, good.url], connectTimeoutMs: 100, onConnection: (e) => e.kind === "connect-failed" && failures.push(e) });
  const results = await Promise.all(events(10).map((e) => c.publish(e)));
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  expect(failures[0]).toMatchObject({ url: stalled.url, error: expect.stringMatching(/no Welcome/) as string });
});

test("a gateway that welcomes and closes at once is retried with backoff, not in a hot loop", async () => {
  const flaky = await gateway({ closeAfterWelcome: true });
  const c = await client({ urls: flaky.url, backoff: { initialMs: 100, maxMs: 200 } });
  const started = Date.now();
  await waitFor(() => Date.now() - started >= 1000, "a second");
  // Full jitter on 100–200 ms caps: about 10–20 attempts a second, never hundreds.
  expect(flaky.hellos).toBeLessThan(40);
  expect(flaky.hellos).toBeGreaterThan(2);
  await c.close();
});

test("a repeated send of an id whose write is still running waits for it, and both reject if it fails", async () => {
  const g = await gateway();
  let fail: (e: Error) => void = () => {};
  const outbox = new MemoryOutbox();
  outbox.append = () => new Promise((_, reject) => (fail = reject));
  const c = await client({ urls: g.url, outbox });
  const e = quoteEvent("x");
  const first = c.send(e);
  const second = c.send(e);
  let settled = false;
  void second.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 20));
  expect(settled).toBe(false); // not "queued" before the outbox holds it
  fail(new Error("disk full"));
  await expect(first).rejects.toThrow(/disk full/);
  await expect(second).rejects.toThrow(/disk full/);
  expect(c.stats.unanswered).toBe(0);
});

test("an event too large for any frame is refused locally (TOO_LARGE); the others go on", async () => {
  const g = await gateway();
  const c = await client({ urls: g.url });
  const big = { ...quoteEvent("big"), payload: new Uint8Array(2 << 20) };
  const [bigResult, ...rest] = await Promise.allSettled([c.publish(big), ...events(5).map((e) => c.publish(e))]);
  expect(bigResult.status).toBe("rejected");
  expect(((bigResult as PromiseRejectedResult).reason as EventRefusedError).code).toBe(ResultCode.TOO_LARGE);
  expect(rest.every((r) => r.status === "fulfilled")).toBe(true);
  expect(g.batches.flat().map((e) => e.id)).not.toContain("big");
});

test("a half-open connection (the gateway stops answering) is given up after keepAliveMs and the events fail over", async () => {
  const a = await gateway({ hold: true });
  const b = await gateway();
  const c = await client({ urls: [a.url, b.url], keepAliveMs: 100 });
  const all = Promise.all(events(20).map((e) => c.publish(e)));
  await waitFor(() => a.batches.flat().length === 20, "the events at a");
  a.frozen = true; // no results, no pongs, no close
  const results = await all;
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
  expect(b.acked.size).toBe(20);
});

test("callbacks that throw do not break delivery", async () => {
  const g = await gateway();
  const c = await client({
    urls: g.url,
    onResult: () => {
      throw new Error("bug in onResult");
    },
    onConnection: () => {
      throw new Error("bug in onConnection");
    },
  });
  const results = await Promise.all(events(20).map((e) => c.publish(e)));
  expect(results.every((r) => r.code === ResultCode.ACK)).toBe(true);
});

test("flush() rejects when the client stops for good with events unanswered", async () => {
  const g = await gateway({ apiKey: "right" });
  const c = await WeirClient.open({ urls: g.url, tenant: "acme", apiKey: "wrong" });
  cleanup.push(() => c.close());
  await c.send(quoteEvent("x")).catch(() => {});
  await expect(c.flush()).rejects.toBeInstanceOf(ConnectionClosedError);
});

test("a result code this client does not know is retried, not taken as final", async () => {
  const g = await gateway({ answer: (_env, attempt) => (attempt === 1 ? { code: 42 as ResultCode, retryAfterMs: 10 } : undefined) });
  const c = await client({ urls: g.url });
  const result = await c.publish(quoteEvent("x"));
  expect(result.code).toBe(ResultCode.ACK);
  expect(g.attempts.get("x")).toBe(2);
});

test("ordered: events land in send order even when a batch is answered RETRY_AFTER (without it, the retried batch comes later)", async () => {
  const run = async (ordered: boolean) => {
    // The second batch is refused once (overload), as the gateway refuses a whole batch.
    const g = await gateway({ refuseBatch: (i) => i === 1, maxBatchEvents: 8 });
    const c = await client({ urls: g.url, ordered, lingerMs: 0 });
    const envs = events(40, ordered ? "o" : "u");
    await Promise.all(envs.map((e) => c.publish(e)));
    return { accepted: [...g.acked], sent: envs.map((e) => e.id) };
  };
  const ordered = await run(true);
  expect(ordered.accepted).toEqual(ordered.sent);
  const unordered = await run(false);
  expect([...unordered.accepted].sort()).toEqual([...unordered.sent].sort());
  expect(unordered.accepted).not.toEqual(unordered.sent);
});

test("the connection's states: connecting, connected, disconnected with the reason and the next retry, suspended, closed", async () => {
  const dead = await gateway();
  await dead.close();
  const changes: ConnectionStateChange[] = [];
  const c = await client({ urls: dead.url, suspendAfterMs: 150, backoff: { initialMs: 20, maxMs: 40 }, onStateChange: (s) => changes.push(s) });
  await waitFor(() => changes.some((s) => s.state === "suspended"), "suspended after 150 ms without a gateway").catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(changes)}`);
  });
  const first = changes.find((s) => s.state === "disconnected")!;
  expect(first).toMatchObject({ previous: "connecting", url: dead.url });
  expect(first.reason).toMatch(/ECONNREFUSED|connect/i);
  expect(first.retryInMs).toBeGreaterThan(0);
  expect(first.retryAtMs).toBe(first.atMs + first.retryInMs!);
  expect(c.connectionState.state).toBe("suspended");
  // A gateway comes up at that address: connected, from suspended.
  const g = await gateway({ port: Number(new URL(dead.url).port) });
  await waitFor(() => c.connectionState.state === "connected", "connected").catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(changes.slice(-4))}`);
  });
  expect(changes.at(-1)).toMatchObject({ state: "connected", previous: "suspended", url: g.url });
  // The gateway goes away: disconnected, with when it tries again (at once after a connection that
  // served a while or answered; after a backoff otherwise, as here).
  g.kill();
  await waitFor(() => changes.filter((s) => s.state === "disconnected").length > 1 && changes.at(-1)!.state !== "connected", "disconnected");
  const lost = changes.filter((s) => s.state === "disconnected").at(-1)!;
  expect(lost).toMatchObject({ previous: "connected", url: g.url, closeCode: 1006 });
  expect(lost.retryAtMs).toBe(lost.atMs + lost.retryInMs!);
  await c.close();
  expect(changes.at(-1)).toMatchObject({ state: "closed", reason: "client closed" });
  expect(c.connectionState.state).toBe("closed");
});

test("RETRY_AFTER answers are observable: one notice per batch and reason, with the wait", async () => {
  const g = await gateway({
    answer: (_env, attempt) =>
      attempt < 2 ? { code: ResultCode.RETRY_AFTER, retryAfterMs: 30, errorCode: "WEIR_ERR_KAFKA_UNAVAILABLE", reason: "brokers unreachable" } : undefined,
  });
  const notices: RetryNotice[] = [];
  const c = await client({ urls: g.url, lingerMs: 20, onRetry: (n) => notices.push(n) });
  await Promise.all(events(10).map((e) => c.publish(e)));
  expect(notices.reduce((n, x) => n + x.events, 0)).toBe(10);
  for (const n of notices) expect(n).toMatchObject({ errorCode: "WEIR_ERR_KAFKA_UNAVAILABLE", reason: "brokers unreachable" });
  expect(notices.every((n) => n.retryInMs >= 10)).toBe(true);
});
