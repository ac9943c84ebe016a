/**
 * What the fuzz tests share: arbitraries for client input (nasty strings, envelopes, client frames,
 * byte mutations of valid frames), a Transport that counts a send after close instead of throwing,
 * the shape every refused connection must have, and a model of the ingest handshake (the table in
 * src/protocol/session.ts, the credit rules of src/protocol/ingest-session.ts) that the handshake,
 * frame-decoder and relay properties check the real sessions against.
 */
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect } from "vitest";
import { ClientFrameSchema, type PublishBatch, type ServerFrame } from "../../src/gen/weir/v1/protocol_pb.js";
import { EnvelopeSchema, type Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { WeirError, errorSpecs, type ErrorCode, type ErrorSpec } from "../../src/errors.js";
import { decodeClientFrame, type ClientFrameBody } from "../../src/protocol/session.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import type { IngestLimits } from "../../src/protocol/ingest-session.js";
import { FakeTransport, clientFrame } from "../unit-fixtures/fake-transport.js";
import { quoteEvent } from "../unit-fixtures/events.js";
import { SMALL_INGEST_LIMITS } from "../unit-fixtures/session-limits.js";

// ---- transport ----

/** A FakeTransport that records a send or a close after close (the fixture throws, which would hide where it came from). */
export class RecordingTransport extends FakeTransport {
  sentAfterClose = 0;
  closedAgain = 0;

  override send(bytes: Uint8Array): void {
    if (this.closed) {
      this.sentAfterClose++;
      return;
    }
    super.send(bytes);
  }

  override close(code: number, reason: string): void {
    if (this.closed) {
      this.closedAgain++;
      return;
    }
    super.close(code, reason);
  }
}

type ServerFrameBody = ServerFrame["frame"];

/**
 * How a connection that ends must end: exactly one ProtocolError, the last frame sent, whose code
 * is in errorSpecs and whose close code is that code's; then the close with that code (as the
 * server's socket API can carry it: `socketCode`) and the error code as reason. Client input never
 * gets 1011 (a server fault). An open connection has sent no ProtocolError.
 */
export function expectRefusalShape(
  frames: readonly ServerFrameBody[],
  closed: { code: number; reason: string } | undefined,
  socketCode: (closeCode: number) => number = (c) => c,
): void {
  const errors = frames.flatMap((f) => (f.case === "error" ? [f.value] : []));
  if (!closed) {
    expect(errors, "a ProtocolError on a connection left open").toEqual([]);
    return;
  }
  expect(errors, "one ProtocolError before the close").toHaveLength(1);
  expect(frames.at(-1)?.case, "the ProtocolError is the last frame").toBe("error");
  const error = errors[0]!;
  expect(Object.keys(errorSpecs), "a known error code").toContain(error.errorCode);
  const spec: ErrorSpec = errorSpecs[error.errorCode as ErrorCode];
  expect(error.closeCode, `${error.errorCode}'s close code`).toBe(spec.close);
  expect(error.closeCode, "1011 (server fault) for client input").not.toBe(1011);
  expect(closed).toEqual({ code: socketCode(error.closeCode), reason: error.errorCode });
}

/** Every PublishResult sent answers one accepted batch (its seq, one result per event, in order, the batch's credit back), each batch once. */
export function expectResultsMatch(
  frames: readonly ServerFrameBody[],
  accepted: ReadonlyArray<{ seq: bigint; events: readonly Envelope[] }>,
  allAnswered: boolean,
): void {
  const unanswered = [...accepted];
  for (const f of frames) {
    if (f.case !== "result") continue;
    const r = f.value;
    const ids = r.results.map((e) => e.id);
    const i = unanswered.findIndex((b) => b.seq === r.seq && b.events.length === ids.length && b.events.every((e, k) => e.id === ids[k]));
    expect(i, `PublishResult seq ${r.seq} (${ids.length} results) answers no accepted batch left`).toBeGreaterThanOrEqual(0);
    expect(r.credit).toBe(ids.length);
    for (const e of r.results) if (e.errorCode !== "") expect(Object.keys(errorSpecs)).toContain(e.errorCode);
    unanswered.splice(i, 1);
  }
  if (allAnswered)
    expect(
      unanswered.map((b) => b.seq),
      "accepted batches never answered",
    ).toEqual([]);
}

// ---- arbitraries ----

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const controlChar = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constant(0x7f)).map((c) => String.fromCharCode(c));
const oddChar = fc.oneof(loneSurrogate, controlChar, fc.constantFrom("\u0000", "\uffff", "\ufeff", "\u200b", "é", "👍", "|", ",", ":", "*", "."));

/** Strings a client may send: ASCII, any code point, control characters, lone surrogates, and a few classics. */
export function nastyString(maxLength = 24): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: "binary", maxLength }),
    fc.string({ unit: "binary-ascii", maxLength }),
    fc.string({ unit: oddChar, maxLength }),
    fc.constantFrom("", " ", "null", "undefined", "%s%s%s", "../../etc/passwd", "*", "__proto__", "constructor"),
  );
}

export const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

/** Event types the fixtures know, one they do not, and none. */
export const EVENT_TYPES = ["weir.events.v1.Quote", "weir.events.v1.Trade", "weir.events.v1.HttpAccessLog", "weir.events.v1.Nope", ""] as const;

const cleanId = fc.oneof(fc.constantFrom("e-1", "e-2", "e-3", "dup"), fc.uuid());
const idArb = fc.oneof({ weight: 3, arbitrary: cleanId }, { weight: 2, arbitrary: nastyString(16) });

/**
 * Envelopes as a device may send them: Quotes valid but for what the test varies (mostly clean
 * names; a tenant by name, its own or another's), and anything at all, for `tenants`.
 */
export function envelopeArb(tenants: readonly string[]): fc.Arbitrary<Envelope> {
  // Mostly none (the connection's), sometimes a tenant by name, its own or another's.
  const tenant = fc.oneof({ weight: 6, arbitrary: fc.constant("") }, { weight: 2, arbitrary: fc.constantFrom(...tenants) }, nastyString(12));
  const clean = fc.dictionary(fc.constantFrom("venue", "debug", "site"), fc.constantFrom("test", "1", "prod"), { maxKeys: 3 });
  const nasty = fc.dictionary(fc.oneof(fc.constantFrom("venue", "debug"), nastyString(8)), fc.oneof(fc.constantFrom("test", "1"), nastyString(8)), {
    maxKeys: 3,
  });
  const partitionKey = fc.oneof({ weight: 3, arbitrary: fc.constantFrom("", "ACME", "BOLT") }, nastyString(12));
  const valid = fc
    .record({
      id: fc.oneof({ weight: 4, arbitrary: cleanId }, nastyString(16)),
      tenant,
      partitionKey,
      attributes: fc.oneof({ weight: 3, arbitrary: clean }, nasty),
    })
    .map(({ id, tenant, partitionKey, attributes }) => ({ ...quoteEvent(id, { partitionKey, attributes, eventTimeMs: 1_700_000_000_000 }), tenant }));
  const random = fc
    .record({
      id: idArb,
      tenant,
      type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...EVENT_TYPES) }, nastyString(16)),
      partitionKey,
      traceparent: fc.oneof(fc.constant(""), nastyString(60)),
      payload: fc.uint8Array({ maxLength: 300 }),
      attributes: nasty,
      eventTimeMs: fc.option(fc.integer({ min: -8_640_000_000_000, max: 8_640_000_000_000 })),
    })
    .map(({ eventTimeMs, ...fields }) => create(EnvelopeSchema, { ...fields, ...(eventTimeMs === null ? {} : { eventTime: timestampFromMs(eventTimeMs) }) }));
  return fc.oneof({ weight: 2, arbitrary: valid }, random);
}

/** `tenant:key` pairs a server accepts. */
export type Credentials = ReadonlyMap<string, string>;

/** The ingest sessions' credentials and limits, small so that credit and batch limits are hit often. */
export const CREDENTIALS: Credentials = new Map([
  ["acme", "s3cret-key"],
  ["globex", "other-key"],
]);
export const LIMITS: IngestLimits = { ...SMALL_INGEST_LIMITS, maxSendBufferBytes: 1 << 20, helloTimeoutMs: 600_000 };

export function helloFrame(credentials: Credentials): fc.Arbitrary<Uint8Array> {
  const pairs = [...credentials];
  const who = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...pairs) },
    // A known tenant with another tenant's key, or a near miss.
    fc
      .tuple(fc.constantFrom(...pairs), fc.constantFrom(...pairs), fc.constantFrom("", "x", " "))
      .map(([[tenant], [, key], tail]) => [tenant, key + tail] as const),
    fc.tuple(nastyString(12), nastyString(12)),
  );
  return fc
    .record({
      protocolVersion: fc.oneof(
        { weight: 6, arbitrary: fc.constant(PROTOCOL_VERSION) },
        fc.constantFrom(0, PROTOCOL_VERSION + 1),
        fc.nat({ max: 2 ** 32 - 1 }),
      ),
      who,
      token: fc.oneof({ weight: 3, arbitrary: fc.constant("") }, nastyString(40)),
      clientId: nastyString(12),
    })
    .map(({ protocolVersion, who: [tenant, apiKey], token, clientId }) =>
      clientFrame({ case: "hello", value: { protocolVersion, tenant, apiKey, token, clientId } }),
    );
}

/** Batches of mostly up to 3 events (what the fuzzed servers allow), sometimes up to `maxEvents`. */
export function publishFrame(tenants: readonly string[], maxEvents = 5): fc.Arbitrary<Uint8Array> {
  const envelope = envelopeArb(tenants);
  const events = fc.oneof({ weight: 5, arbitrary: fc.array(envelope, { maxLength: Math.min(3, maxEvents) }) }, fc.array(envelope, { maxLength: maxEvents }));
  return fc.record({ seq: u64, events }).map(({ seq, events }) => clientFrame({ case: "publish", value: { seq, events } }));
}

export const pingFrame = u64.map((nonce) => clientFrame({ case: "ping", value: { nonce } }));
export const refreshFrame = nastyString(60).map((token) => clientFrame({ case: "refresh", value: { token } }));
export const subscribeFrame = fc
  .record({ stream: fc.oneof(fc.constantFrom("alerts", "results.fraud"), nastyString(20)), key: nastyString(8), keyPrefix: nastyString(8) })
  .map((value) => clientFrame({ case: "subscribe", value }));
/** A ClientFrame with no frame set. */
export const emptyFrame = fc.constant(clientFrame({ case: undefined }));

/** One byte-level change to a message. Positions are taken modulo the message's length. */
export type Mutation =
  | { readonly op: "flip"; readonly at: number; readonly bit: number }
  | { readonly op: "set"; readonly at: number; readonly value: number }
  | { readonly op: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: "delete"; readonly at: number; readonly length: number }
  | { readonly op: "truncate"; readonly at: number }
  | { readonly op: "repeat"; readonly at: number; readonly length: number };

const at = fc.nat({ max: 1 << 16 });
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at, value: fc.oneof(fc.constantFrom(0x00, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ op: fc.constant("insert" as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ op: fc.constant("delete" as const), at, length: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant("truncate" as const), at }),
  fc.record({ op: fc.constant("repeat" as const), at, length: fc.integer({ min: 1, max: 12 }) }),
);

export function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(bytes);
  for (const m of mutations) {
    const i = b.length === 0 ? 0 : m.at % (b.length + (m.op === "insert" ? 1 : 0));
    switch (m.op) {
      case "flip":
        if (b.length > 0) b[i] = b[i]! ^ (1 << m.bit);
        break;
      case "set":
        if (b.length > 0) b[i] = m.value;
        break;
      case "insert":
        b = Uint8Array.from([...b.subarray(0, i), ...m.bytes, ...b.subarray(i)]);
        break;
      case "delete":
        b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + m.length)]);
        break;
      case "truncate":
        b = b.slice(0, i);
        break;
      case "repeat":
        b = Uint8Array.from([...b.subarray(0, i + m.length), ...b.subarray(i, i + m.length), ...b.subarray(i + m.length)]);
        break;
    }
  }
  return b;
}

/** Valid encodings of every client frame kind, for `credentials`. */
export function validFrame(credentials: Credentials): fc.Arbitrary<Uint8Array> {
  const tenants = [...credentials.keys()];
  return fc.oneof(helloFrame(credentials), publishFrame(tenants), pingFrame, refreshFrame, subscribeFrame, emptyFrame);
}

/** A valid frame with one to four byte-level mutations. */
export function mutatedFrame(credentials: Credentials): fc.Arbitrary<Uint8Array> {
  return fc.tuple(validFrame(credentials), fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([bytes, mutations]) => mutate(bytes, mutations));
}

/** One WebSocket message from a client. `settle`: the test lets every pending answer arrive after it. */
export type Step = { readonly bytes: Uint8Array; readonly isBinary: boolean; readonly settle: boolean };

/** Relative weights of the kinds of message stepArb makes. */
export type StepWeights = {
  readonly hello: number;
  readonly publish: number;
  readonly ping: number;
  readonly other: number;
  readonly garbage: number;
  readonly text: number;
};

const ANY_ORDER: StepWeights = { hello: 6, publish: 6, ping: 2, other: 1, garbage: 1, text: 1 };
const AFTER_HELLO: StepWeights = { hello: 1, publish: 10, ping: 3, other: 1, garbage: 1, text: 0.5 };

/** Messages a client may send on /v1/ingest: mostly frames, sometimes text, garbage or a damaged frame. */
export function stepArb(credentials: Credentials, maxEvents = 5, w: StepWeights = ANY_ORDER): fc.Arbitrary<Step> {
  const tenants = [...credentials.keys()];
  const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight: Math.round(weight * 4), arbitrary });
  const binary = fc.oneof(
    weighted(w.hello, helloFrame(credentials)),
    weighted(w.publish, publishFrame(tenants, maxEvents)),
    weighted(w.ping, pingFrame),
    weighted(w.other, fc.oneof(refreshFrame, subscribeFrame, emptyFrame)),
    weighted(w.garbage, fc.oneof(fc.uint8Array({ maxLength: 48 }), mutatedFrame(credentials))),
  );
  const text = fc.oneof(
    fc.string({ maxLength: 32 }).map((s) => new TextEncoder().encode(s)),
    validFrame(credentials),
  );
  const message = fc.oneof(
    weighted(
      w.hello + w.publish + w.ping + w.other + w.garbage,
      binary.map((bytes) => ({ bytes, isBinary: true })),
    ),
    weighted(
      w.text,
      text.map((bytes) => ({ bytes, isBinary: false })),
    ),
  );
  // Mostly not: a client sends several frames before it hears back, so credit runs out.
  const settle = fc.nat({ max: 3 }).map((n) => n === 0);
  return fc.record({ message, settle }).map(({ message, settle }) => ({ ...message, settle }));
}

/** A Hello that is welcomed (the right version and one of the pairs). */
export function goodHello(credentials: Credentials): fc.Arbitrary<Uint8Array> {
  return fc
    .constantFrom(...credentials)
    .map(([tenant, apiKey]) => clientFrame({ case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant, apiKey, clientId: "fuzz" } }));
}

/**
 * A connection's messages, up to `maxLength`: most start with a Hello (mostly a good one) and go
 * on with batches, pings and the odd bad frame; the others are messages in any order.
 */
export function sessionArb(credentials: Credentials, maxLength = 8, maxEvents = 5): fc.Arbitrary<Step[]> {
  const hello = fc.record({
    bytes: fc.oneof({ weight: 4, arbitrary: goodHello(credentials) }, helloFrame(credentials)),
    isBinary: fc.constant(true),
    settle: fc.boolean(),
  });
  return fc.oneof(
    { weight: 1, arbitrary: fc.array(stepArb(credentials, maxEvents), { maxLength }) },
    {
      weight: 4,
      arbitrary: fc.tuple(hello, fc.array(stepArb(credentials, maxEvents, AFTER_HELLO), { maxLength: maxLength - 1 })).map(([first, rest]) => [first, ...rest]),
    },
  );
}

// ---- the ingest handshake, as the table in src/protocol/session.ts says ----

export type IngestModelOptions = {
  readonly credentials: Credentials;
  readonly credit: number;
  readonly maxBatchEvents: number;
  /** The authenticator answers in a later turn (a token check) rather than at once (API keys). */
  readonly asyncAuth: boolean;
};

/** A frame the server sends, as the model predicts it (PublishResults are checked apart: expectResultsMatch). */
export type Expected =
  | { readonly case: "welcome" }
  | { readonly case: "pong"; readonly nonce: bigint }
  | { readonly case: "error"; readonly errorCode: ErrorCode };

/** The frames other than PublishResults, in the shape of Expected. */
export function observed(frames: readonly ServerFrameBody[]): Expected[] {
  return frames.flatMap((f): Expected[] => {
    if (f.case === "welcome") return [{ case: "welcome" }];
    if (f.case === "pong") return [{ case: "pong", nonce: f.value.nonce }];
    if (f.case === "error") return [{ case: "error", errorCode: f.value.errorCode as ErrorCode }];
    if (f.case === "result") return [];
    return [{ case: f.case ?? "none" } as unknown as Expected];
  });
}

type AuthOutcome = "ok" | ErrorCode;

/** What apiKeyAuthenticator answers (src/protocol/api-key-authenticator.ts), from its documented rules. */
function authenticate(credentials: Credentials, tenant: string, apiKey: string, token: string): AuthOutcome {
  if (apiKey === "") return token ? "WEIR_ERR_BAD_TOKEN" : "WEIR_ERR_UNAUTHORIZED";
  return credentials.has(tenant) && credentials.get(tenant) === apiKey ? "ok" : "WEIR_ERR_UNAUTHORIZED";
}

/** Frames a client may send behind its Hello before the Welcome (session.ts: MAX_EARLY_FRAMES). */
const MAX_EARLY_FRAMES = 2;

/**
 * The ingest protocol as specified: what an IngestSession on an API-key authenticator must send
 * for each message, how it must close, and which batches it must accept. Fed the same messages
 * as the session under test; `settle()` where the test lets pending answers arrive.
 */
export class IngestModel {
  phase: "awaiting-hello" | "authenticating" | "ready" | "closed" = "awaiting-hello";
  credit = 0;
  readonly expected: Expected[] = [];
  readonly accepted: Array<{ seq: bigint; events: readonly Envelope[] }> = [];
  /** The tenant of the last Hello that passed the version check ("" before). */
  tenant = "";
  private inFlight = 0;
  private early: ClientFrameBody[] = [];
  private pendingHello: AuthOutcome | undefined;
  private pendingRefresh: ErrorCode | undefined;
  private refreshing = false;

  constructor(private readonly opts: IngestModelOptions) {}

  get closedWith(): ErrorCode | undefined {
    const last = this.expected.at(-1);
    return this.phase === "closed" && last?.case === "error" ? last.errorCode : undefined;
  }

  onMessage(bytes: Uint8Array, isBinary: boolean): void {
    if (this.phase === "closed") return;
    const frame = decodeClientFrame(bytes, isBinary);
    if (frame instanceof WeirError) return this.fail("WEIR_ERR_BAD_FRAME");
    if (frame.case === undefined) return this.fail("WEIR_ERR_BAD_FRAME");
    if (frame.case === "hello") {
      if (this.phase !== "awaiting-hello") return this.fail("WEIR_ERR_BAD_FRAME");
      const h = frame.value;
      if (h.protocolVersion !== PROTOCOL_VERSION) return this.fail("WEIR_ERR_UNSUPPORTED_VERSION");
      this.phase = "authenticating";
      this.tenant = h.tenant;
      const outcome = authenticate(this.opts.credentials, h.tenant, h.apiKey, h.token);
      if (this.opts.asyncAuth) this.pendingHello = outcome;
      else this.helloAnswered(outcome);
      return;
    }
    if (this.phase === "authenticating") {
      if (this.early.length >= MAX_EARLY_FRAMES) return this.fail("WEIR_ERR_BAD_FRAME");
      this.early.push(frame);
      return;
    }
    if (this.phase !== "ready") return this.fail("WEIR_ERR_HELLO_REQUIRED");
    this.onFrame(frame);
  }

  /** Pending authentications answer; then every batch in flight is answered (its credit back). */
  settle(): void {
    if (this.pendingHello !== undefined) {
      const outcome = this.pendingHello;
      this.pendingHello = undefined;
      this.helloAnswered(outcome);
    }
    if (this.pendingRefresh !== undefined) {
      const refusal = this.pendingRefresh;
      this.pendingRefresh = undefined;
      this.fail(refusal);
    }
    if (this.phase !== "closed") {
      this.credit += this.inFlight;
      this.inFlight = 0;
    }
  }

  private helloAnswered(outcome: AuthOutcome): void {
    if (this.phase === "closed") return;
    if (outcome !== "ok") return this.fail(outcome);
    this.phase = "ready";
    this.credit = this.opts.credit;
    this.expected.push({ case: "welcome" });
    for (const frame of this.early.splice(0)) if (this.phase === "ready") this.onFrame(frame);
  }

  private onFrame(frame: ClientFrameBody): void {
    switch (frame.case) {
      case "ping":
        this.expected.push({ case: "pong", nonce: frame.value.nonce });
        return;
      case "refresh": {
        if (this.refreshing) return this.fail("WEIR_ERR_BAD_FRAME");
        this.refreshing = true;
        // A Refresh is authenticated as a Hello with the connection's tenant, the token and no API key.
        const outcome = authenticate(this.opts.credentials, this.tenant, "", frame.value.token) as ErrorCode;
        if (this.opts.asyncAuth) this.pendingRefresh = outcome;
        else this.fail(outcome);
        return;
      }
      case "publish":
        return this.onPublish(frame.value);
      default:
        return this.fail("WEIR_ERR_BAD_FRAME");
    }
  }

  private onPublish(batch: PublishBatch): void {
    const n = batch.events.length;
    if (n > this.opts.maxBatchEvents) return this.fail("WEIR_ERR_BATCH_TOO_LARGE");
    if (n > this.credit) return this.fail("WEIR_ERR_CREDIT_EXCEEDED");
    this.credit -= n;
    this.inFlight += n;
    this.accepted.push({ seq: batch.seq, events: batch.events });
  }

  private fail(code: ErrorCode): void {
    if (this.phase === "closed") return;
    this.expected.push({ case: "error", errorCode: code });
    this.phase = "closed";
  }
}

/** Bytes of a ClientFrame carrying `frame` (re-exported for tests that build frames from decoded values). */
export function encodeClientFrame(frame: ClientFrameBody): Uint8Array {
  return toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame }));
}
