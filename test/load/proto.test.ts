/**
 * The hand-rolled Protobuf codec bundled with the k6 scripts (load/k6/lib/proto.js) against the
 * real generated schemas: what it encodes, protobuf-es decodes to the same message (and, where the
 * encoding is canonical, to the same bytes); what protobuf-es encodes, it decodes.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, ResultCode as PbResultCode, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { EnvelopeSchema } from "../../src/gen/weir/v1/envelope_pb.js";
import { HttpAccessLogSchema } from "../../src/gen/weir/events/v1/access_log_pb.js";
import {
  HTTP_ACCESS_LOG_TYPE,
  ResultCode,
  decodeServerFrame,
  decodeUtf8,
  encodeClientFrame,
  encodeEnvelope,
  encodeHttpAccessLog,
  encodePublishFrame,
  encodeUtf8,
  timestampFromMs,
  toArrayBuffer,
  utf8Length,
} from "../../load/k6/lib/proto.js";

const strings = [
  "",
  "plain ascii",
  "é ü ß — “quotes”",
  "日本語のテキスト",
  "emoji 🚀🎉 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "lone surrogates \ud800 x \udc00 y \ud83d",
  "nul \u0000 and del \u007f and \u0080 \u07ff \u0800 \uffff",
];

function randomString(rand: () => number): string {
  let s = "";
  const n = Math.floor(rand() * 20);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.4) s += String.fromCharCode(32 + Math.floor(rand() * 95));
    else if (r < 0.6) s += String.fromCharCode(0x80 + Math.floor(rand() * 0x780));
    else if (r < 0.7) s += String.fromCharCode(0x800 + Math.floor(rand() * 0xd000));
    else if (r < 0.8) s += String.fromCharCode(0xe000 + Math.floor(rand() * 0x2000)); // BMP above the surrogates
    else s += String.fromCodePoint(0x10000 + Math.floor(rand() * 0xfffff));
  }
  return s;
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("UTF-8 without TextEncoder", () => {
  test.each(strings)("encodes %j as TextEncoder does", (s) => {
    const expected = new TextEncoder().encode(s);
    expect(encodeUtf8(s)).toEqual(expected);
    expect(utf8Length(s)).toBe(expected.length);
  });

  test("round-trips random strings and decodes as TextDecoder does", () => {
    const rand = mulberry32(42);
    for (let i = 0; i < 2000; i++) {
      const s = randomString(rand);
      const bytes = new TextEncoder().encode(s);
      expect(encodeUtf8(s)).toEqual(bytes);
      expect(decodeUtf8(bytes)).toBe(new TextDecoder().decode(bytes));
    }
  });

  test("invalid UTF-8 decodes to replacement characters, never throws", () => {
    expect(decodeUtf8(new Uint8Array([0x41, 0xff, 0x42]))).toBe("A\ufffdB");
    expect(decodeUtf8(new Uint8Array([0xc0, 0x80]))).toBe("\ufffd\ufffd"); // overlong
    expect(decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBe("\ufffd"); // encoded surrogate
    expect(decodeUtf8(new Uint8Array([0xe2, 0x82]))).toContain("\ufffd"); // truncated
  });
});

describe("client frames encoded by the k6 codec, decoded by protobuf-es", () => {
  test("Hello", () => {
    const value = { protocolVersion: 1, tenant: "demo", apiKey: "démo-kéy 🔑", clientId: "k6-vu7" };
    const bytes = encodeClientFrame({ case: "hello", value });
    const frame = fromBinary(ClientFrameSchema, bytes);
    expect(frame.frame.case).toBe("hello");
    expect(frame.frame.value).toMatchObject(value);
    expect(bytes).toEqual(toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: { case: "hello", value } })));
  });

  test("PublishBatch of envelopes with HttpAccessLog payloads, 64-bit and negative numbers", () => {
    const rand = mulberry32(7);
    const seq = 2 ** 40 + 5;
    const events = Array.from({ length: 20 }, (_, i) => {
      const log = {
        host: `web-${i}`,
        method: i % 2 ? "GET" : "POST",
        path: `/päth/${randomString(rand)}`,
        status: i === 3 ? -1 : 200 + i, // -1: a negative int32 takes ten bytes
        bytesSent: i === 4 ? 2 ** 52 + 3 : i * 1000, // 0 for i = 0: a default, not written
        latencyMs: i === 5 ? 2 ** 32 - 1 : i,
        clientIp: i % 3 ? `10.0.0.${i}` : "",
        userAgent: randomString(rand),
      };
      const env = {
        id: `run-1-${i}`,
        tenant: i % 4 ? "" : "demo",
        type: HTTP_ACCESS_LOG_TYPE,
        eventTime: timestampFromMs(1_700_000_000_123 + i),
        partitionKey: log.host,
        traceparent: i % 5 ? "" : "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        payload: encodeHttpAccessLog(log),
        attributes: (i % 2 ? { region: "eu-west", "ñ": randomString(rand), empty: "" } : {}) as Record<string, string>,
      };
      return { log, env };
    });
    const bytes = encodeClientFrame({ case: "publish", value: { seq, events: events.map((e) => e.env) } });
    // The fast path (pre-encoded envelopes) gives the same bytes.
    expect(encodePublishFrame(seq, events.map((e) => encodeEnvelope(e.env)))).toEqual(bytes);

    const frame = fromBinary(ClientFrameSchema, bytes);
    if (frame.frame.case !== "publish") throw new Error(`decoded ${String(frame.frame.case)}`);
    expect(frame.frame.value.seq).toBe(BigInt(seq));
    expect(frame.frame.value.events).toHaveLength(events.length);
    frame.frame.value.events.forEach((got, i) => {
      const { env, log } = events[i]!;
      expect(got.id).toBe(env.id);
      expect(got.tenant).toBe(env.tenant);
      expect(got.type).toBe(env.type);
      expect(got.eventTime?.seconds).toBe(BigInt(env.eventTime.seconds));
      expect(got.eventTime?.nanos).toBe(env.eventTime.nanos);
      expect(got.partitionKey).toBe(env.partitionKey);
      expect(got.traceparent).toBe(env.traceparent);
      expect(got.attributes).toEqual(env.attributes);
      const payload = fromBinary(HttpAccessLogSchema, got.payload);
      expect(payload).toMatchObject({ ...log, bytesSent: BigInt(log.bytesSent) });

      // Canonical encoding: the same bytes protobuf-es writes for the same message.
      const pbLog = create(HttpAccessLogSchema, { ...log, bytesSent: BigInt(log.bytesSent) });
      expect(env.payload).toEqual(toBinary(HttpAccessLogSchema, pbLog));
      const pbEnv = create(EnvelopeSchema, {
        ...env,
        eventTime: { seconds: BigInt(env.eventTime.seconds), nanos: env.eventTime.nanos },
        payload: toBinary(HttpAccessLogSchema, pbLog),
      });
      expect(encodeEnvelope(env)).toEqual(toBinary(EnvelopeSchema, pbEnv));
    });
  });

  test("Ping, and an empty batch", () => {
    const ping = fromBinary(ClientFrameSchema, encodeClientFrame({ case: "ping", value: { nonce: 2 ** 50 } }));
    expect(ping.frame).toEqual({ case: "ping", value: expect.objectContaining({ nonce: 2n ** 50n }) });
    const empty = fromBinary(ClientFrameSchema, encodeClientFrame({ case: "publish", value: { seq: 1, events: [] } }));
    expect(empty.frame.case).toBe("publish");
  });

  test("numbers beyond 2^53 are refused rather than silently rounded", () => {
    expect(() => encodeClientFrame({ case: "publish", value: { seq: 2 ** 60, events: [] } })).toThrow(RangeError);
    expect(() => encodeHttpAccessLog({ bytesSent: 1.5 })).toThrow(TypeError);
  });

  test("toArrayBuffer gives exactly the frame's bytes", () => {
    const frame = encodeClientFrame({ case: "hello", value: { protocolVersion: 1, tenant: "t" } });
    const view = new Uint8Array(frame.length + 10);
    view.set(frame, 5);
    expect(new Uint8Array(toArrayBuffer(view.subarray(5, 5 + frame.length)))).toEqual(frame);
    expect(new Uint8Array(toArrayBuffer(frame))).toEqual(frame);
  });
});

describe("server frames encoded by protobuf-es, decoded by the k6 codec", () => {
  const encode = (frame: Parameters<typeof create<typeof ServerFrameSchema>>[1]) => toBinary(ServerFrameSchema, create(ServerFrameSchema, frame));

  test("the k6 ResultCode values are the schema's", () => {
    expect(ResultCode).toEqual({
      UNSPECIFIED: PbResultCode.UNSPECIFIED,
      ACK: PbResultCode.ACK,
      DUPLICATE: PbResultCode.DUPLICATE,
      INVALID: PbResultCode.INVALID,
      RETRY_AFTER: PbResultCode.RETRY_AFTER,
      UNAUTHORIZED: PbResultCode.UNAUTHORIZED,
      TOO_LARGE: PbResultCode.TOO_LARGE,
      UNKNOWN_TYPE: PbResultCode.UNKNOWN_TYPE,
    });
  });

  test("Welcome", () => {
    const value = { sessionId: "sess-ü-1", credit: 2048, maxBatchEvents: 1000, maxEventBytes: 262144, maxFrameBytes: 4194304, gatewayId: "gw-🚀" };
    expect(decodeServerFrame(encode({ frame: { case: "welcome", value } }))).toEqual({ case: "welcome", value });
  });

  test("PublishResult with every result code", () => {
    const results = Object.values(ResultCode).map((code, i) => ({
      id: `ev-${i}-${"é".repeat(i)}`,
      code: code as number,
      errorCode: code === ResultCode.ACK ? "" : `WEIR_ERR_${i}`,
      reason: code === ResultCode.ACK ? "" : `reason ${i}: 日本`,
      retryAfterMs: code === ResultCode.RETRY_AFTER ? 250 : 0,
    }));
    const bytes = encode({ frame: { case: "result", value: { seq: BigInt(2 ** 40 + 1), results, credit: 7 } } });
    expect(decodeServerFrame(bytes)).toEqual({ case: "result", value: { seq: 2 ** 40 + 1, results, credit: 7 } });
  });

  test("CreditGrant, Pong, ProtocolError, an empty frame", () => {
    expect(decodeServerFrame(encode({ frame: { case: "credit", value: { credit: 12 } } }))).toEqual({ case: "credit", value: { credit: 12 } });
    expect(decodeServerFrame(encode({ frame: { case: "pong", value: { nonce: 2n ** 50n } } }))).toEqual({ case: "pong", value: { nonce: 2 ** 50 } });
    const error = { errorCode: "WEIR_ERR_CREDIT_EXCEEDED", message: "batch of 5 events exceeds the 4 credits granted", closeCode: 4429 };
    expect(decodeServerFrame(encode({ frame: { case: "error", value: error } }))).toEqual({ case: "error", value: error });
    expect(decodeServerFrame(new Uint8Array(0))).toEqual({ case: undefined, value: undefined });
  });

  test("unknown fields are skipped (a newer gateway may add some)", () => {
    const welcome = encode({ frame: { case: "welcome", value: { sessionId: "s", credit: 3 } } });
    // ServerFrame field 12 (reserved for subscriptions) with a nested message, then a fixed64
    // field 13, a fixed32 field 14 and a varint field 15, around the known welcome.
    const unknown = new Uint8Array([0x62, 0x02, 0x08, 0x01, 0x69, 1, 2, 3, 4, 5, 6, 7, 8, 0x75, 1, 2, 3, 4, 0x78, 0x96, 0x01]);
    const bytes = new Uint8Array([...unknown, ...welcome, ...unknown]);
    expect(decodeServerFrame(bytes)).toEqual({
      case: "welcome",
      value: { sessionId: "s", credit: 3, maxBatchEvents: 0, maxEventBytes: 0, maxFrameBytes: 0, gatewayId: "" },
    });
    expect(decodeServerFrame(unknown)).toEqual({ case: undefined, value: undefined });
  });

  test("truncated frames throw", () => {
    const bytes = encode({ frame: { case: "welcome", value: { sessionId: "session", credit: 3 } } });
    for (let n = 1; n < bytes.length; n++) expect(() => decodeServerFrame(bytes.subarray(0, n)), `first ${n} bytes`).toThrow();
  });
});

test("the k6 files use only what k6 provides: k6 modules, relative imports, no Node or newer globals", () => {
  for (const file of ["load/k6/ingest.js", "load/k6/subscribe.js", "load/k6/lib/proto.js", "load/k6/lib/env.js"]) {
    const src = readFileSync(new URL(`../../${file}`, import.meta.url), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    for (const m of src.matchAll(/^\s*import\s[^"']*["']([^"']+)["']/gm)) {
      expect(m[1], `${file} imports ${m[1]}`).toMatch(/^(k6(\/.*)?|\.\.?\/.*)$/);
    }
    for (const banned of [/\bTextEncoder\b/, /\bTextDecoder\b/, /\bBuffer\b/, /\bprocess\b/, /\brequire\s*\(/, /\bBigInt\b/, /\b\d+n\b/, /\bperformance\b/]) {
      expect(src, `${file} uses ${banned.source}`).not.toMatch(banned);
    }
  }
});
