/**
 * Delivers one alert to an HTTP webhook: no Kafka here, so it can be tested against a plain HTTP
 * server. The receiver is expected to honour the `idempotency-key` header (the alertId, stable
 * across reprocessing), which is what makes "retry until it lands" safe: a request whose response
 * was lost is simply sent again with the same key.
 *
 * Retryable (network error, timeout, 408, 425, 429, 5xx) is retried without limit by default, since
 * an alert must not be lost; only the caller's AbortSignal (shutdown) stops it, by throwing. Any
 * other non-2xx answer is the receiver refusing this alert for good: it is returned, not retried.
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import type { AlertRecord } from "../kafka-contract.js";

export type DeliveryOptions = {
  url: string;
  /** Extra request headers, e.g. Authorization. Cannot override the idempotency headers. */
  headers?: Readonly<Record<string, string>>;
  /** Per-request timeout (connect to end of response body). Default 10 s. */
  timeoutMs?: number;
  /** Backoff: full jitter over min(maxDelayMs, baseDelayMs * 2^(attempt-1)). Defaults 200 ms, 30 s. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Attempts before giving up by throwing; unlimited by default. */
  maxAttempts?: number;
  /** Aborting it stops delivery promptly: the pending request or sleep is cut and deliverAlert throws. */
  signal?: AbortSignal;
  /** Called before each retry's wait, e.g. to count retries or log them. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** Injected for tests; the defaults are real timers and Math.random. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
};

export type DeliveryResult =
  | { outcome: "delivered"; status: number; attempts: number }
  | { outcome: "refused"; status: number; body: string; attempts: number };

/** Slack incoming-webhook payload; Slack ignores `weir`, other receivers get the whole record there. */
export function slackPayload(record: AlertRecord): { text: string; blocks: unknown[]; weir: AlertRecord } {
  return {
    text: escapeMrkdwn(record.summary),
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*${escapeMrkdwn(record.kind)}* ${escapeMrkdwn(record.summary)}` } },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: escapeMrkdwn(`alert ${record.alertId} · job ${record.job} · event time ${isoTime(record.atMs)}`) }],
      },
    ],
    weir: record,
  };
}

export async function deliverAlert(record: AlertRecord, opts: DeliveryOptions): Promise<DeliveryResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const base = opts.baseDelayMs ?? 200;
  const cap = opts.maxDelayMs ?? 30_000;
  const maxAttempts = opts.maxAttempts ?? Number.POSITIVE_INFINITY;
  const sleep = opts.sleep ?? ((ms: number, signal?: AbortSignal) => sleepFor(ms, undefined, { signal }));
  const random = opts.random ?? Math.random;
  // Built once, outside the loop: a bad header value or URL throws here instead of being mistaken
  // for a network error and retried forever.
  const url = new URL(opts.url);
  const headers = new Headers(opts.headers);
  headers.set("content-type", "application/json");
  const key = idempotencyKeyOf(record.alertId);
  headers.set("idempotency-key", key);
  headers.set("x-weir-alert-id", key);
  const body = JSON.stringify(slackPayload(record));

  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    let reason: string;
    let retryAfterMs: number | undefined;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      // redirect "manual": following a 301/302 would turn the POST into a GET without the alert,
      // and its 200 would count as delivered. A redirect is reported as refused instead.
      const res = await fetch(url, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
      });
      if (res.status >= 200 && res.status < 300) {
        await res.body?.cancel().catch(() => {});
        return { outcome: "delivered", status: res.status, attempts: attempt };
      }
      if (!isRetryable(res.status)) {
        return { outcome: "refused", status: res.status, body: await readPrefix(res, 1024), attempts: attempt };
      }
      await res.body?.cancel().catch(() => {});
      reason = `HTTP ${res.status}`;
      retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    } catch (err) {
      // Our own abort (shutdown) ends delivery; a timeout or a network error is retried.
      opts.signal?.throwIfAborted();
      reason = timeout.aborted ? `timed out after ${timeoutMs} ms` : `network error: ${describe(err)}`;
    }
    if (attempt >= maxAttempts) throw new Error(`webhook delivery of alert ${record.alertId} gave up after ${attempt} attempts: ${reason}`);
    const delayMs = retryAfterMs !== undefined ? Math.min(retryAfterMs, cap) : Math.floor(random() * Math.min(cap, base * 2 ** (attempt - 1)));
    opts.onRetry?.({ attempt, delayMs, reason });
    // Rethrow the caller's own abort reason, whatever error the sleep rejected with.
    await sleep(delayMs, opts.signal).catch((err: unknown) => {
      opts.signal?.throwIfAborted();
      throw err;
    });
  }
}

/**
 * The alertId as a header value: as is when it is printable ASCII (all ids the processor makes
 * today), else percent-encoded. Deterministic either way, so a re-send carries the same key;
 * card, account and sector names are free text and must not make an alert undeliverable.
 */
export function idempotencyKeyOf(alertId: string): string {
  return /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(alertId) ? alertId : encodeURIComponent(alertId);
}

function isRetryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  // Seconds first: Date.parse accepts bare numbers as years.
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The first `limit` bytes of the body as text, without reading a large body to its end. */
async function readPrefix(res: Response, limit: number): Promise<string> {
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  // fetch's body is bytes (its type says ReadableStream<any>).
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short is still worth reporting as far as it got.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit));
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici reports "fetch failed" with the real cause (ECONNREFUSED, ...) underneath.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${(cause as { code?: string }).code ?? cause.message})` : err.message;
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** Slack mrkdwn needs only &, < and > escaped; anything else is shown as written. */
function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
