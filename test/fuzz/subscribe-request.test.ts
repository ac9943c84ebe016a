/**
 * Fuzzing the Subscribe request (issue 15, item 8): a welcomed subscriber sends one Subscribe —
 * a known, near-miss or random stream; key and key prefix of any characters (controls, lone
 * surrogates, astral), of any length around the 1,024-character limit; no start, the earliest, a
 * resume token (well-formed for the stream or not: another topic, a wrong partition count, offsets
 * expired, beyond the end, not numbers; or any string at all), or a time (negative, huge, in
 * range) — maybe with a second frame right behind it, and to an authenticator that answers at once
 * or a turn later (the Subscribe then waits behind the Hello).
 *
 * The Subscription runs on the real SubscriptionHub over fake TopicReaders (no Kafka). It must
 * never throw and never answer 1011: it is either Subscribed, starting where the request says, or
 * refused with the code the request deserves — 4404 unknown stream, 4402 not granted, 4422 bad
 * request or resume token, 4410 resume position expired, 4400 a second Subscribe — with one
 * ProtocolError, then the close, then nothing. Closed, it leaves the hub (no catch-up read left).
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { Hello, Subscribe } from "../../src/gen/weir/v1/protocol_pb.js";
import { WeirError, type ErrorCode } from "../../src/errors.js";
import { decodeClientFrame } from "../../src/protocol/session.js";
import type { Grants } from "../../src/protocol/grants.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import type { Authenticator } from "../../src/protocol/ports.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { Subscription } from "../../src/subscribe/subscription.js";
import { SubscriptionHub } from "../../src/subscribe/hub.js";
import type { CatchUpHandler, TopicOffsets, TopicReaders, TopicTail } from "../../src/subscribe/ports.js";
import { decodeResumeToken } from "../../src/subscribe/resume-token.js";
import { streamCatalog } from "../../src/subscribe/streams.js";
import { silentLogger } from "../../src/log.js";
import { builtinRegistry } from "../unit-fixtures/events.js";
import { clientFrame } from "../unit-fixtures/fake-transport.js";
import { flushMicrotasks, until } from "../unit-fixtures/fake-ports.js";
import { FUZZ_RUNS, FUZZ_SEED, fuzzTimeout, reportCases } from "./settings.js";
import { RecordingTransport, expectRefusalShape, nastyString } from "./harness.js";

const TENANT = "acme";
const API_KEY = "s3cret-key";
const PARTITIONS = 3;
/** Oldest offset kept and end, per partition (partition 1 is empty). */
const LOW = [5, 1, 20];
const HIGH = [50, 1, 120];
/** Latest time a Subscribe may name (src/subscribe/subscription.ts). */
const MAX_TIME_MS = 8_640_000_000_000_000n;
const MAX_KEY_CHARS = 1024;

const catalog = streamCatalog(builtinRegistry(), {
  jobs: ["fraud", "error-rate"],
  rawTypes: ["weir.events.v1.HttpAccessLog", "weir.events.v1.Quote"],
  conflate: ["events.weir.events.v1.Quote"],
});
const STREAMS = [...catalog.keys()];

/** The first offset at or after a time, per partition (-1: none), made up from the time. */
function atTime(ms: number): number[] {
  return LOW.map((low, p) => (ms % 3 === 0 ? -1 : Math.min(HIGH[p]!, low + (ms % 11))));
}

/** Topics that always answer LOW/HIGH; catch-up reads that never read anything, counted. */
class FakeReaders implements TopicReaders {
  catchUps = 0;
  stopped = 0;
  openTail(topic: string): Promise<TopicTail> {
    return Promise.resolve({ topic, next: [...HIGH], partitions: PARTITIONS, add: () => {}, close: () => Promise.resolve() });
  }
  startCatchUp(_topic: string, _from: readonly number[], _handler: CatchUpHandler): Promise<{ stop(): Promise<void> }> {
    this.catchUps++;
    return Promise.resolve({ stop: () => (this.stopped++, Promise.resolve()) });
  }
  offsets(_topic: string, _partitions: number, atTimestampMs?: number): Promise<TopicOffsets> {
    return Promise.resolve({ low: [...LOW], high: [...HIGH], ...(atTimestampMs === undefined ? {} : { atTime: atTime(atTimestampMs) }) });
  }
}

// ---- the request ----

const longKey = fc
  .tuple(fc.integer({ min: MAX_KEY_CHARS - 8, max: MAX_KEY_CHARS + 8 }), fc.constantFrom("k", "é", "👍", "\u0000", "\ud800", "\u001f"))
  .map(([n, c]) => c.repeat(c.length === 2 ? Math.ceil(n / 2) : n));
const keyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant("") },
  { weight: 4, arbitrary: nastyString(24) },
  { weight: 2, arbitrary: longKey },
  fc.constantFrom("x".repeat(20_000), "ACME"),
);

const streamArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...STREAMS) },
  fc.constantFrom(...STREAMS).chain((s) => fc.constantFrom(`${s} `, ` ${s}`, s.toUpperCase(), `${s}.*`, s.slice(0, -1), `${s}\u0000`)),
  fc.constantFrom("", "results.", "events.", "results.nope", "events.weir.events.v1.Trade", "*", "alerts.*"),
  nastyString(30),
);

/** One offset of a resume token, for partition p. */
type OffsetSpec = { kind: "in"; frac: number } | { kind: "below" } | { kind: "beyond" } | { kind: "raw"; text: string };
const offsetSpec: fc.Arbitrary<OffsetSpec> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("in" as const), frac: fc.integer({ min: 0, max: 100 }) }) },
  fc.constant({ kind: "below" as const }),
  fc.constant({ kind: "beyond" as const }),
  fc.record({
    kind: fc.constant("raw" as const),
    text: fc.oneof(
      fc.constantFrom("-1", "1e3", "", " 5", "5 ", "+3", "0x10", "０", "9007199254740993", "00007", "NaN", "Infinity"),
      fc.nat().map(String),
      nastyString(6),
    ),
  }),
);
const offsetText = (spec: OffsetSpec, p: number): string => {
  const low = LOW[p % PARTITIONS]!;
  const high = HIGH[p % PARTITIONS]!;
  if (spec.kind === "in") return String(low + Math.floor(((high - low) * spec.frac) / 100));
  if (spec.kind === "below") return String(low - 1);
  if (spec.kind === "beyond") return String(high + 1);
  return spec.text;
};

/** A resume token recipe: built once the stream (its topic) is known. */
type TokenRecipe =
  | { kind: "any"; text: string }
  | {
      kind: "built";
      version: string;
      /** "own" (the stream's), "other" (another stream's) or any text. */
      topic: string;
      offsets: OffsetSpec[];
      encoding: "base64url" | "base64" | "plain";
    };
const tokenRecipe: fc.Arbitrary<TokenRecipe> = fc.oneof(
  fc.record({ kind: fc.constant("any" as const), text: fc.oneof(nastyString(40), fc.base64String({ maxLength: 40 })) }),
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("built" as const),
      version: fc.oneof({ weight: 6, arbitrary: fc.constant("v1") }, fc.constantFrom("v2", "V1", "", "v1 ")),
      topic: fc.oneof({ weight: 6, arbitrary: fc.constant("own") }, fc.constantFrom("other", "weir.alerts"), nastyString(10)),
      offsets: fc.oneof(
        { weight: 6, arbitrary: fc.array(offsetSpec, { minLength: PARTITIONS, maxLength: PARTITIONS }) },
        fc.array(offsetSpec, { maxLength: PARTITIONS + 2 }),
      ),
      encoding: fc.oneof({ weight: 6, arbitrary: fc.constant("base64url" as const) }, fc.constantFrom("base64" as const, "plain" as const)),
    }),
  },
);
function buildToken(recipe: TokenRecipe, topic: string | undefined): string {
  if (recipe.kind === "any") return recipe.text;
  const t = recipe.topic === "own" ? (topic ?? "weir.alerts") : recipe.topic === "other" ? "weir.results.other" : recipe.topic;
  const raw = `${recipe.version}|${t}|${recipe.offsets.map(offsetText).join(",")}`;
  return recipe.encoding === "plain" ? raw : Buffer.from(raw, "utf8").toString(recipe.encoding);
}

type StartRecipe =
  | { case: undefined }
  | { case: "fromEarliest"; value: boolean }
  | { case: "fromTimestampMs"; value: bigint }
  | { case: "resumeToken"; recipe: TokenRecipe };
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const startArb: fc.Arbitrary<StartRecipe> = fc.oneof(
  fc.constant({ case: undefined }),
  fc.record({ case: fc.constant("fromEarliest" as const), value: fc.boolean() }),
  fc.record({
    case: fc.constant("fromTimestampMs" as const),
    value: fc.oneof(
      fc.bigInt({ min: 0n, max: MAX_TIME_MS }),
      fc.bigInt({ min: INT64_MIN, max: -1n }),
      fc.bigInt({ min: MAX_TIME_MS + 1n, max: INT64_MAX }),
      fc.constantFrom(0n, -1n, MAX_TIME_MS, MAX_TIME_MS + 1n, INT64_MIN, INT64_MAX, 1_700_000_000_000n, 2n ** 53n + 1n),
    ),
  }),
  { weight: 3, arbitrary: fc.record({ case: fc.constant("resumeToken" as const), recipe: tokenRecipe }) },
);

/** Mostly none (every stream); else a few patterns. */
const grantsArb: fc.Arbitrary<Grants | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  fc.record({
    publish: fc.constant([]),
    subscribe: fc.subarray(["*", "events.*", "results.*", "alerts", "events.weir.events.v1.Quote", "results.fraud", "nope", "alerts.*"]),
  }),
);

/** A frame right behind the Subscribe, before it is answered (mostly none). */
const secondArb = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, fc.constantFrom("subscribe" as const, "ping" as const));

// ---- what the request deserves, from the documented rules ----

/** A stream name a grant pattern names ("x", "x.*" a prefix, "*" everything). */
function grantedTo(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => p === "*" || p === name || (p.endsWith(".*") && name.startsWith(p.slice(0, -1))));
}

/** The resume token's offsets, or why it is refused (format: base64url of "v1|topic|o0,o1,…", offsets within the kept range). */
function tokenStart(token: string, topic: string): number[] | ErrorCode {
  const parts = Buffer.from(token, "base64url").toString("utf8").split("|");
  if (parts.length !== 3 || parts[0] !== "v1" || parts[1] !== topic) return "WEIR_ERR_BAD_RESUME_TOKEN";
  const offsets = parts[2]!.split(",").map((o) => (/^[0-9]+$/.test(o) && Number.isSafeInteger(Number(o)) ? Number(o) : Number.NaN));
  if (offsets.length !== PARTITIONS || offsets.some(Number.isNaN)) return "WEIR_ERR_BAD_RESUME_TOKEN";
  for (let p = 0; p < PARTITIONS; p++) {
    if (offsets[p]! < LOW[p]!) return "WEIR_ERR_RESUME_EXPIRED";
    if (offsets[p]! > HIGH[p]!) return "WEIR_ERR_BAD_RESUME_TOKEN";
  }
  return offsets;
}

/** Refused before anything is attached (unknown, not granted, a bad time or key filter), or undefined. */
function refusedAtOnce(req: Subscribe, grants: Grants | undefined): ErrorCode | undefined {
  if (!catalog.has(req.stream)) return "WEIR_ERR_UNKNOWN_STREAM";
  if (grants && !grantedTo(grants.subscribe, req.stream)) return "WEIR_ERR_FORBIDDEN_STREAM";
  if (req.start.case === "fromTimestampMs" && (req.start.value < 0n || req.start.value > MAX_TIME_MS)) return "WEIR_ERR_BAD_SUBSCRIBE";
  if (req.key.length > MAX_KEY_CHARS || req.keyPrefix.length > MAX_KEY_CHARS) return "WEIR_ERR_BAD_SUBSCRIBE";
  return undefined;
}

/** Where an admitted request starts, per partition, or why attaching refuses it. */
function startOf(req: Subscribe): number[] | ErrorCode {
  const topic = catalog.get(req.stream)!.topic;
  switch (req.start.case) {
    case undefined:
      return [...HIGH];
    case "fromEarliest":
      return [...LOW];
    case "fromTimestampMs":
      return atTime(Number(req.start.value)).map((o, p) => (o < 0 ? HIGH[p]! : o));
    case "resumeToken":
      return tokenStart(req.start.value, topic);
  }
}

function later(inner: Authenticator): Authenticator {
  return { authenticate: (hello: Hello) => Promise.resolve().then(() => inner.authenticate(hello)) };
}

const open: Subscription[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.onClose();
});

describe("fuzz: the Subscribe request", () => {
  it(
    "is Subscribed where it asks to start, or refused with its own non-retryable code (never 1011), and then leaves the hub",
    async () => {
      let cases = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.record({ stream: streamArb, key: keyArb, keyPrefix: keyArb, start: startArb }),
          grantsArb,
          fc.boolean(),
          secondArb,
          async (fields, grants, asyncAuth, second) => {
            cases++;
            const readers = new FakeReaders();
            const hub = new SubscriptionHub(readers, catalog, silentLogger);
            const t = new RecordingTransport();
            const keys = apiKeyAuthenticator(new Map([[TENANT, API_KEY]]), new Map(grants ? [[TENANT, grants]] : []));
            const sub = new Subscription(t, {
              authenticator: asyncAuth ? later(keys) : keys,
              source: hub,
              limits: { helloTimeoutMs: 600_000, maxSendBufferBytes: 1 << 20, maxPending: 100 },
            });
            for (const s of open.splice(0)) s.onClose(); // the previous case's (its timers)
            open.push(sub);
            const { start, ...rest } = fields;
            const topic = catalog.get(fields.stream)?.topic;
            const startValue = start.case === "resumeToken" ? { case: start.case, value: buildToken(start.recipe, topic) } : start;
            const frame = clientFrame({ case: "subscribe", value: { ...rest, start: startValue } });

            sub.onMessage(clientFrame({ case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: TENANT, apiKey: API_KEY } }), true);
            expect(() => sub.onMessage(frame, true)).not.toThrow();
            if (second === "subscribe") sub.onMessage(clientFrame({ case: "subscribe", value: { stream: STREAMS[0]! } }), true);
            if (second === "ping") sub.onMessage(clientFrame({ case: "ping", value: { nonce: 7n } }), true);
            await flushMicrotasks(40);
            await until(() => expect(t.closed !== undefined || t.framesOf("subscribed").length > 0, "the Subscribe is answered").toBe(true));
            await flushMicrotasks();

            // What the server decoded is what the rules apply to (lone surrogates arrive as U+FFFD).
            const request = decodeSubscribe(frame);
            const atOnce = refusedAtOnce(request, grants);
            // A second Subscribe comes while the first attaches: it is refused whatever attaching would say.
            const expected: ErrorCode | number[] = atOnce ?? (second === "subscribe" ? "WEIR_ERR_BAD_FRAME" : startOf(request));

            const frames = t.frames;
            expectRefusalShape(frames, t.closed);
            expect(t.sentAfterClose, "frames sent after the close").toBe(0);
            expect(t.closedAgain, "closed twice").toBe(0);
            expect(frames[0]?.case, "the Welcome comes first").toBe("welcome");
            expect(frames.filter((f) => f.case === "pong")).toHaveLength(second === "ping" && !atOnce ? 1 : 0);
            if (typeof expected === "string") {
              expect(t.framesOf("error").map((e) => e.errorCode)).toEqual([expected]);
              expect(t.framesOf("subscribed")).toEqual([]);
              expect([4400, 4402, 4404, 4410, 4422]).toContain(t.closed?.code);
              expect(hub.subscribers.has(sub), "a refused subscriber is still attached").toBe(false);
            } else {
              expect(t.closed, `closed: ${t.framesOf("error")[0]?.message}`).toBeUndefined();
              const [subscribed] = t.framesOf("subscribed");
              const spec = catalog.get(request.stream)!;
              expect(subscribed).toMatchObject({ stream: spec.name, slowPolicy: spec.policy });
              expect(decodeResumeToken(subscribed!.resumeToken, spec.topic, PARTITIONS)).toEqual(expected);
              expect([sub.key, sub.keyPrefix]).toEqual([request.key, request.keyPrefix]);
              expect(hub.subscribers.has(sub)).toBe(true);
            }
            sub.onClose();
            await flushMicrotasks();
            expect(hub.subscribers.has(sub)).toBe(false);
            expect(hub.catchUpLoad).toEqual({ running: 0, waiting: 0 });
            expect(readers.stopped, "catch-up reads left running").toBe(readers.catchUps);
            await hub.close();
          },
        ),
        { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
      );
      reportCases("Subscribe requests", cases);
    },
    fuzzTimeout(25),
  );
});

function decodeSubscribe(bytes: Uint8Array): Subscribe {
  const frame = decodeClientFrame(bytes, true);
  if (frame instanceof WeirError || frame.case !== "subscribe") throw new Error("not a Subscribe");
  return frame.value;
}
