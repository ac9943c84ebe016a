/**
 * deliverAlert against a real HTTP server on a free port: what is sent, which answers are retried
 * and how long it waits (a fake sleep records the delays, so no test waits for real backoff).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, test } from "vitest";
import type { AlertRecord } from "../../src/kafka-contract.js";
import { deliverAlert, idempotencyKeyOf, parseRetryAfter, slackPayload } from "../../src/sinks/webhook-delivery.js";

const alert: AlertRecord = {
  alertId: "fraud:card-7:t1:t3",
  job: "fraud",
  kind: "fraud",
  key: "card-7",
  atMs: Date.UTC(2026, 0, 2, 3, 4, 5),
  summary: "Possible card fraud: card card-7, 3 purchases totalling 912.00 from Lyon, FR, new for this card",
  detail: { cardId: "card-7", transactionIds: ["t1", "t2", "t3"] },
};

type Seen = { headers: IncomingHttpHeaders; body: string };
type Answer = (res: ServerResponse, n: number) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server answering request n (1-based) with answers[n-1], or the last one; records each request. */
async function receiver(...answers: Answer[]): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      answers[Math.min(seen.length, answers.length) - 1]!(res, seen.length);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, seen, server };
}

const status =
  (code: number, body = "", headers: Record<string, string> = {}): Answer =>
  (res) =>
    res.writeHead(code, headers).end(body);

/** A sleep that returns at once and remembers what was asked. */
function fakeSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
  };
}

test("posts the Slack-style payload with idempotency headers and extra headers", async () => {
  const r = await receiver(status(200, "ok"));
  const result = await deliverAlert(alert, { url: r.url, headers: { authorization: "Bearer s3cret" } });
  expect(result).toEqual({ outcome: "delivered", status: 200, attempts: 1 });
  expect(r.seen).toHaveLength(1);
  const { headers, body } = r.seen[0]!;
  expect(headers["content-type"]).toBe("application/json");
  expect(headers["idempotency-key"]).toBe(alert.alertId);
  expect(headers["x-weir-alert-id"]).toBe(alert.alertId);
  expect(headers.authorization).toBe("Bearer s3cret");
  const payload = JSON.parse(body) as ReturnType<typeof slackPayload>;
  expect(payload).toEqual(slackPayload(alert));
  expect(payload.text).toBe(alert.summary);
  expect(payload.blocks).toEqual([
    { type: "section", text: { type: "mrkdwn", text: `*fraud* ${alert.summary}` } },
    { type: "context", elements: [{ type: "mrkdwn", text: "alert fraud:card-7:t1:t3 · job fraud · event time 2026-01-02T03:04:05.000Z" }] },
  ]);
  expect(payload.weir).toEqual(alert);
});

test("mrkdwn control characters are escaped; the record under `weir` is untouched", () => {
  const p = slackPayload({ ...alert, summary: "limit <gross> & more" });
  expect(p.text).toBe("limit &lt;gross&gt; &amp; more");
  expect(p.weir.summary).toBe("limit <gross> & more");
});

test("an alertId that is not a valid header value is sent percent-encoded, the same way every time", async () => {
  const r = await receiver(status(204));
  const id = "risk:acc-1:maxSectorNetExposure[Énergie]:breach:1";
  expect(await deliverAlert({ ...alert, alertId: id }, { url: r.url })).toMatchObject({ outcome: "delivered", status: 204 });
  expect(r.seen[0]!.headers["idempotency-key"]).toBe(encodeURIComponent(id));
  expect(idempotencyKeyOf(id)).toBe(idempotencyKeyOf(id));
  expect(idempotencyKeyOf("risk:a:sector[Information Technology]:breach:1")).toBe("risk:a:sector[Information Technology]:breach:1");
});

test("500 then 200: delivered on the second attempt after a jittered backoff", async () => {
  const r = await receiver(status(500, "boom"), status(200));
  const { sleep, delays } = fakeSleep();
  const retries: string[] = [];
  const result = await deliverAlert(alert, { url: r.url, sleep, random: () => 0.5, onRetry: (i) => retries.push(i.reason) });
  expect(result).toEqual({ outcome: "delivered", status: 200, attempts: 2 });
  expect(r.seen.map((s) => s.headers["idempotency-key"])).toEqual([alert.alertId, alert.alertId]);
  expect(delays).toEqual([100]); // 0.5 * 200 ms
  expect(retries).toEqual(["HTTP 500"]);
});

test("backoff doubles per attempt with full jitter, up to the cap", async () => {
  const r = await receiver(status(503), status(503), status(502), status(504), status(200));
  const { sleep, delays } = fakeSleep();
  const result = await deliverAlert(alert, { url: r.url, sleep, random: () => 0.999, baseDelayMs: 100, maxDelayMs: 500 });
  expect(result).toMatchObject({ outcome: "delivered", attempts: 5 });
  expect(delays).toEqual([99, 199, 399, 499]);
});

test("429 with Retry-After (seconds, then an HTTP date beyond the cap) is honoured", async () => {
  const far = new Date(Date.now() + 3_600_000).toUTCString();
  const r = await receiver(status(429, "", { "retry-after": "7" }), status(429, "", { "retry-after": far }), status(200));
  const { sleep, delays } = fakeSleep();
  const result = await deliverAlert(alert, { url: r.url, sleep, random: () => 0, maxDelayMs: 20_000 });
  expect(result).toEqual({ outcome: "delivered", status: 200, attempts: 3 });
  expect(delays).toEqual([7000, 20_000]);
});

test("Retry-After parsing", () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);
  expect(parseRetryAfter("0", now)).toBe(0);
  expect(parseRetryAfter(" 12 ", now)).toBe(12_000);
  expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
  expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
  expect(parseRetryAfter("soon", now)).toBeUndefined();
  expect(parseRetryAfter(null, now)).toBeUndefined();
});

test("400 is refused at once, with the first KiB of the body", async () => {
  const r = await receiver(status(400, `invalid_payload ${"x".repeat(5000)}`));
  const { sleep, delays } = fakeSleep();
  const result = await deliverAlert(alert, { url: r.url, sleep });
  expect(result.outcome).toBe("refused");
  if (result.outcome !== "refused") return;
  expect(result.status).toBe(400);
  expect(result.attempts).toBe(1);
  expect(result.body.startsWith("invalid_payload xxx")).toBe(true);
  expect(result.body).toHaveLength(1024);
  expect(delays).toEqual([]);
  expect(r.seen).toHaveLength(1);
});

test("a redirect is refused, not followed as a GET that would drop the alert", async () => {
  const r = await receiver(status(302, "", { location: "/elsewhere" }));
  expect(await deliverAlert(alert, { url: r.url })).toMatchObject({ outcome: "refused", status: 302 });
  expect(r.seen).toHaveLength(1);
});

test("connection refused is retried until the receiver is back", async () => {
  // A port that was free a moment ago: nothing listens there until the third attempt.
  const probe = await receiver(status(200));
  const port = Number(new URL(probe.url).port);
  await new Promise((res) => probe.server.close(res));
  const reasons: string[] = [];
  let late: Server | undefined;
  const seen: string[] = [];
  const sleep = async (ms: number) => {
    expect(ms).toBeGreaterThanOrEqual(0);
    if (reasons.length === 2) {
      late = createServer((req, res) => {
        seen.push(String(req.headers["idempotency-key"]));
        req.resume().on("end", () => res.end("ok"));
      });
      servers.push(late);
      await new Promise<void>((ok) => late!.listen(port, "127.0.0.1", ok));
    }
  };
  const result = await deliverAlert(alert, { url: probe.url, sleep, onRetry: (i) => reasons.push(i.reason) });
  expect(result).toEqual({ outcome: "delivered", status: 200, attempts: 3 });
  expect(reasons).toHaveLength(2);
  expect(reasons[0]).toMatch(/network error: .*ECONNREFUSED/);
  expect(seen).toEqual([alert.alertId]);
});

test("a server that never answers times out and is retried", async () => {
  const r = await receiver((res, n) => {
    if (n > 1) res.end("late but fine");
    // The first request is left hanging.
  });
  const { sleep } = fakeSleep();
  const reasons: string[] = [];
  const result = await deliverAlert(alert, { url: r.url, sleep, timeoutMs: 200, onRetry: (i) => reasons.push(i.reason) });
  expect(result).toMatchObject({ outcome: "delivered", attempts: 2 });
  expect(reasons).toEqual(["timed out after 200 ms"]);
});

test("aborting stops retrying: a pending request and a backoff sleep both end with the abort reason", async () => {
  // Retrying 503s with real (short) sleeps; abort once a few attempts were made.
  const r = await receiver(status(503));
  const stop = new AbortController();
  const during = deliverAlert(alert, { url: r.url, signal: stop.signal, baseDelayMs: 5, maxDelayMs: 20 });
  while (r.seen.length < 3) await new Promise((ok) => setImmediate(ok));
  stop.abort(new Error("shutting down"));
  await expect(during).rejects.toThrow("shutting down");

  // A request the server holds: the abort cuts it rather than waiting for the 10 s timeout.
  const held = await receiver(() => {});
  const stop2 = new AbortController();
  const started = Date.now();
  const pending = deliverAlert(alert, { url: held.url, signal: stop2.signal });
  while (held.seen.length < 1) await new Promise((ok) => setImmediate(ok));
  stop2.abort(new Error("closing"));
  await expect(pending).rejects.toThrow("closing");
  expect(Date.now() - started).toBeLessThan(5000);

  // Already aborted: no request at all.
  await expect(deliverAlert(alert, { url: held.url, signal: stop2.signal })).rejects.toThrow("closing");
  expect(held.seen).toHaveLength(1);
});

test("maxAttempts gives up by throwing, with the last reason", async () => {
  const r = await receiver(status(503));
  const { sleep } = fakeSleep();
  await expect(deliverAlert(alert, { url: r.url, sleep, maxAttempts: 3 })).rejects.toThrow(/gave up after 3 attempts: HTTP 503/);
  expect(r.seen).toHaveLength(3);
});
