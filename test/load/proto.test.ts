/**
 * The hand-rolled Protobuf codec of the k6 scripts (load/k6/lib/proto.js; load/README.md says why
 * it is not protobuf-es) against the generated protobuf-es schemas, for every message and field it
 * encodes or decodes:
 *   - what it encodes is byte for byte what protobuf-es's toBinary writes for the same message,
 *     and fromBinary reads it back to the same values;
 *   - what protobuf-es encodes, it decodes to what protobuf-es's fromBinary reads (64-bit integers
 *     as numbers: exact within ±2^53, the nearest few doubles beyond);
 *   - edge cases: empty messages and zero values, int32/uint32/int64/uint64 limits, negative and
 *     10-byte varints, Unicode (astral, lone surrogates), map entries with empty keys and values,
 *     repeated fields of 0..n items, oneof members holding their zero value, and unknown fields of
 *     every wire type in every message, skipped;
 *   - seeded random messages of every kind, both ways.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  ClientFrameSchema,
  CreditGrantSchema,
  DeliveryBatchSchema,
  PongSchema,
  ProtocolErrorSchema,
  PublishResultSchema,
  ResultCode as PbResultCode,
  ServerFrameSchema,
  SubscribedSchema,
  WelcomeSchema,
  type ServerFrame,
} from "../../src/gen/weir/v1/protocol_pb.js";
import { EnvelopeSchema } from "../../src/gen/weir/v1/envelope_pb.js";
import { HttpAccessLogSchema } from "../../src/gen/weir/events/v1/access_log_pb.js";
import {
  HTTP_ACCESS_LOG_TYPE,
  ResultCode,
  decodeHttpAccessLog,
  decodeServerFrame,
  decodeUtf8,
  encodeClientFrame,
  encodeEnvelope,
  encodeHttpAccessLog,
  encodePublishFrame,
  encodeUtf8,
  resultCodeName,
  timestampFromMs,
  toArrayBuffer,
  utf8Length,
  type Envelope,
  type HttpAccessLog,
  type Subscribe,
} from "../../load/k6/lib/proto.js";

// ---- inputs ---------------------------------------------------------------------------------

const strings = [
  "",
  "plain ascii",
  "é ü ß — “quotes”",
  "日本語のテキスト",
  "emoji 🚀🎉 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "lone surrogates \ud800 x \udc00 y \ud83d",
  "nul \u0000 and del \u007f and \u0080 \u07ff \u0800 \uffff",
  "\ufeffa leading byte-order mark",
];

const INT32 = [0, 1, -1, 127, 128, -128, 2 ** 31 - 1, -(2 ** 31)];
const UINT32 = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 - 1];
/** uint64 values a JS number holds exactly: the codec's range. */
const UINT53 = [0, 1, 127, 128, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 7, 2 ** 53 - 1];
const INT53 = [...UINT53, -1, -128, -(2 ** 31), -(2 ** 32) - 1, -(2 ** 53 - 1)];

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomString(rand: () => number, max = 20): string {
  let s = "";
  const n = Math.floor(rand() * max);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.4) s += String.fromCharCode(32 + Math.floor(rand() * 95));
    else if (r < 0.6) s += String.fromCharCode(0x80 + Math.floor(rand() * 0x780));
    else if (r < 0.7) s += String.fromCharCode(0x800 + Math.floor(rand() * 0xd000));
    else if (r < 0.8)
      s += String.fromCharCode(0xe000 + Math.floor(rand() * 0x2000)); // BMP above the surrogates
    else s += String.fromCodePoint(0x10000 + Math.floor(rand() * 0xfffff));
  }
  return s;
}

/** An edge value half of the time, else a random one of the same range. */
function randomOf(rand: () => number, edges: readonly number[], min: number, max: number): number {
  return rand() < 0.5 ? edges[Math.floor(rand() * edges.length)]! : min + Math.floor(rand() * (max - min));
}

function randomBytes(rand: () => number, max = 40): Uint8Array {
  return Uint8Array.from({ length: Math.floor(rand() * max) }, () => Math.floor(rand() * 256));
}

// ---- protobuf-es side ---------------------------------------------------------------------------

const pb = <S extends DescMessage>(schema: S, init: MessageInitShape<S>) => toBinary(schema, create(schema, init));

/** A protobuf-es value as the k6 codec gives it: no $typeName, 64-bit integers as numbers, bytes as arrays. */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => k !== "$typeName" && k !== "$unknown")
        .map(([k, x]) => [k, plain(x)]),
    );
  }
  return v;
}

const pbLog = (log: HttpAccessLog) => ({ ...log, bytesSent: BigInt(log.bytesSent ?? 0) });
const pbEnvelope = (env: Envelope) => ({ ...env, eventTime: env.eventTime && { seconds: BigInt(env.eventTime.seconds), nanos: env.eventTime.nanos } });
function pbSubscribe(sub: Subscribe) {
  const start =
    sub.start?.case === "fromTimestampMs" ? { case: "fromTimestampMs" as const, value: BigInt(sub.start.value) } : (sub.start ?? { case: undefined });
  return { ...sub, start };
}

/**
 * Unknown fields of every wire type (field numbers no Weir message uses), as protobuf-es writes
 * them from a message's $unknown: a 10-byte varint, fixed64, a length-delimited field, fixed32
 * and a group holding a nested field.
 */
const UNKNOWN = [
  { no: 901, wireType: WireType.Varint, data: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) },
  { no: 902, wireType: WireType.Bit64, data: new Uint8Array(8).fill(0xab) },
  { no: 903, wireType: WireType.LengthDelimited, data: new BinaryWriter().bytes(new Uint8Array([0x08, 0x96, 0x01])).finish() },
  { no: 904, wireType: WireType.Bit32, data: new Uint8Array(4).fill(0xcd) },
  {
    no: 905,
    wireType: WireType.StartGroup,
    data: new BinaryWriter().tag(1, WireType.Varint).uint32(5).tag(2, WireType.LengthDelimited).string("ü").tag(905, WireType.EndGroup).finish(),
  },
];

/** Puts UNKNOWN into this message and every message inside it. */
function withUnknownEverywhere<T>(value: T): T {
  if (Array.isArray(value)) value.forEach(withUnknownEverywhere);
  else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    if ("$typeName" in value) (value as { $unknown?: unknown }).$unknown = UNKNOWN;
    for (const v of Object.values(value)) withUnknownEverywhere(v);
  }
  return value;
}

// ---- UTF-8 --------------------------------------------------------------------------------------

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

// ---- client frames: the k6 codec encodes, protobuf-es reads ------------------------------------

describe("client frames: byte for byte what protobuf-es writes", () => {
  test("Hello: every field, every kind of string, and the empty Hello", () => {
    for (const s of strings) {
      for (const protocolVersion of UINT32) {
        const value = { protocolVersion, tenant: s, apiKey: `${s}🔑`, clientId: s.slice(0, 3) };
        const bytes = encodeClientFrame({ case: "hello", value });
        expect(bytes).toEqual(pb(ClientFrameSchema, { frame: { case: "hello", value } }));
      }
    }
    // Lone surrogates become U+FFFD on both sides: what protobuf-es reads back is the replaced text.
    expect(fromBinary(ClientFrameSchema, encodeClientFrame({ case: "hello", value: { tenant: "a\ud800b" } })).frame.value).toMatchObject({
      tenant: "a\ufffdb",
    });
    expect(encodeClientFrame({ case: "hello", value: {} })).toEqual(new Uint8Array([0x0a, 0x00])); // present, though empty
  });

  test("HttpAccessLog: every field at its int32, uint32 and uint64 limits; the empty log writes nothing", () => {
    const logs: HttpAccessLog[] = [];
    for (const status of INT32) for (const latencyMs of UINT32) logs.push({ host: "h", method: "GET", path: "/", status, latencyMs, bytesSent: 0 });
    for (const bytesSent of UINT53)
      logs.push({ host: "日本", method: "", path: "/🚀", status: 200, bytesSent, latencyMs: 1, clientIp: "::1", userAgent: "k6 ü" });
    for (const log of logs) {
      const bytes = encodeHttpAccessLog(log);
      expect(bytes).toEqual(pb(HttpAccessLogSchema, pbLog(log)));
      expect(plain(fromBinary(HttpAccessLogSchema, bytes))).toEqual({
        host: "",
        method: "",
        path: "",
        status: 0,
        bytesSent: 0,
        latencyMs: 0,
        clientIp: "",
        userAgent: "",
        ...log,
      });
    }
    expect(encodeHttpAccessLog({})).toEqual(new Uint8Array(0));
  });

  test("Envelope: every field; event times before 1970 and at the Timestamp limits; maps empty, with empty keys and values, with many entries", () => {
    const times = [0, 1, 999, 1000, 1_700_000_000_123, -1, -999, -1000, -1001, 253_402_300_799_999, -62_135_596_800_000];
    const maps: Array<Record<string, string>> = [
      {},
      { "": "" },
      { k: "" },
      { "": "v" },
      { "ñ 🚀": "日本", region: "eu-west" },
      Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key-${i}`, `value-${i}`])),
    ];
    const payload = encodeHttpAccessLog({ host: "web-1", status: 503 });
    for (const ms of times) {
      for (const attributes of maps) {
        const env: Envelope = {
          id: "id-ü",
          tenant: "demo",
          type: HTTP_ACCESS_LOG_TYPE,
          eventTime: timestampFromMs(ms),
          partitionKey: "web-1",
          traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
          payload,
          attributes,
        };
        const bytes = encodeEnvelope(env);
        expect(bytes).toEqual(pb(EnvelopeSchema, pbEnvelope(env)));
        const back = fromBinary(EnvelopeSchema, bytes);
        expect(timestampMs(back.eventTime!)).toBe(ms);
        expect(back.eventTime!.nanos).toBeGreaterThanOrEqual(0);
        expect(back.eventTime!.nanos).toBeLessThan(1e9);
        expect(back.attributes).toEqual(attributes);
        expect(back.payload).toEqual(payload);
      }
    }
    // Absent fields are not written; an event time of zero is a present, empty Timestamp.
    expect(encodeEnvelope({})).toEqual(new Uint8Array(0));
    expect(encodeEnvelope({ eventTime: { seconds: 0, nanos: 0 }, payload: new Uint8Array(0), attributes: {} })).toEqual(pb(EnvelopeSchema, { eventTime: {} }));
  });

  test("PublishBatch: 0, 1 and 100 events, as objects or already encoded, seq up to 2^53 - 1", () => {
    const events = Array.from(
      { length: 100 },
      (_, i): Envelope => ({
        id: `run-${i}`,
        type: HTTP_ACCESS_LOG_TYPE,
        eventTime: timestampFromMs(1_700_000_000_000 + i),
        partitionKey: `k${i % 7}`,
        payload: encodeHttpAccessLog({ host: `h${i}`, status: 200 + i }),
      }),
    );
    for (const seq of UINT53) {
      for (const n of [0, 1, 100]) {
        const some = events.slice(0, n);
        const bytes = encodeClientFrame({ case: "publish", value: { seq, events: some } });
        expect(bytes).toEqual(pb(ClientFrameSchema, { frame: { case: "publish", value: { seq: BigInt(seq), events: some.map(pbEnvelope) } } }));
        expect(encodePublishFrame(seq, some.map(encodeEnvelope))).toEqual(bytes);
        expect(encodeClientFrame({ case: "publish", value: { seq, events: some.map(encodeEnvelope) } })).toEqual(bytes);
      }
    }
  });

  test("Ping: nonce up to 2^53 - 1", () => {
    for (const nonce of UINT53)
      expect(encodeClientFrame({ case: "ping", value: { nonce } })).toEqual(
        pb(ClientFrameSchema, { frame: { case: "ping", value: { nonce: BigInt(nonce) } } }),
      );
  });

  test("Subscribe: each start, its zero value included (a oneof member has presence), times before 1970", () => {
    const starts: Array<Subscribe["start"]> = [
      undefined,
      { case: undefined },
      { case: "resumeToken", value: "" },
      { case: "resumeToken", value: "djF8dG9waWN8MSwyLDM" },
      { case: "fromEarliest", value: true },
      { case: "fromEarliest", value: false },
      ...INT53.map((value) => ({ case: "fromTimestampMs" as const, value })),
    ];
    for (const start of starts) {
      for (const [stream, key, keyPrefix] of [
        ["events.weir.events.v1.HttpAccessLog", "web-1", ""],
        ["alerts", "", "card-"],
        ["", "", ""],
        ["results.ü", "日本", "🚀"],
      ]) {
        const sub: Subscribe = { stream, key, keyPrefix, ...(start ? { start } : {}) };
        expect(encodeClientFrame({ case: "subscribe", value: sub })).toEqual(pb(ClientFrameSchema, { frame: { case: "subscribe", value: pbSubscribe(sub) } }));
      }
    }
  });

  test("numbers the codec cannot write exactly are refused, not rounded", () => {
    expect(() => encodeClientFrame({ case: "publish", value: { seq: 2 ** 60, events: [] } })).toThrow(RangeError);
    expect(() => encodeClientFrame({ case: "ping", value: { nonce: 2 ** 53 } })).toThrow(RangeError);
    expect(() => encodeHttpAccessLog({ bytesSent: 1.5 })).toThrow(TypeError);
    expect(() => encodeHttpAccessLog({ bytesSent: -1 })).toThrow(RangeError);
    expect(() => encodeClientFrame({ case: "subscribe", value: { stream: "s", start: { case: "fromTimestampMs", value: Number.NaN } } })).toThrow(TypeError);
    expect(() => encodeClientFrame({ case: "nope" } as never)).toThrow(/unknown frame case/);
  });

  test("random messages of every kind", () => {
    const rand = mulberry32(7);
    for (let i = 0; i < 300; i++) {
      const log: HttpAccessLog = {
        host: randomString(rand),
        method: randomString(rand, 5),
        path: randomString(rand, 60),
        status: randomOf(rand, INT32, -(2 ** 31), 2 ** 31),
        bytesSent: randomOf(rand, UINT53, 0, 2 ** 53),
        latencyMs: randomOf(rand, UINT32, 0, 2 ** 32),
        clientIp: randomString(rand, 16),
        userAgent: randomString(rand, 80),
      };
      expect(encodeHttpAccessLog(log)).toEqual(pb(HttpAccessLogSchema, pbLog(log)));
      const env: Envelope = {
        id: randomString(rand),
        tenant: randomString(rand, 8),
        type: randomString(rand, 30),
        eventTime: timestampFromMs(randomOf(rand, [0, -1, 1], -(2 ** 45), 2 ** 45)),
        partitionKey: randomString(rand),
        traceparent: randomString(rand, 55),
        payload: rand() < 0.5 ? encodeHttpAccessLog(log) : randomBytes(rand),
        attributes: Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [randomString(rand, 8), randomString(rand, 8)])),
      };
      expect(encodeEnvelope(env)).toEqual(pb(EnvelopeSchema, pbEnvelope(env)));
      const hello = {
        protocolVersion: randomOf(rand, UINT32, 0, 2 ** 32),
        tenant: randomString(rand),
        apiKey: randomString(rand),
        clientId: randomString(rand),
      };
      expect(encodeClientFrame({ case: "hello", value: hello })).toEqual(pb(ClientFrameSchema, { frame: { case: "hello", value: hello } }));
      const start = [
        { case: undefined },
        { case: "resumeToken" as const, value: randomString(rand) },
        { case: "fromTimestampMs" as const, value: randomOf(rand, INT53, -(2 ** 53) + 1, 2 ** 53) },
        { case: "fromEarliest" as const, value: rand() < 0.5 },
      ][Math.floor(rand() * 4)]!;
      const sub: Subscribe = { stream: randomString(rand), key: randomString(rand), keyPrefix: randomString(rand), start };
      expect(encodeClientFrame({ case: "subscribe", value: sub })).toEqual(pb(ClientFrameSchema, { frame: { case: "subscribe", value: pbSubscribe(sub) } }));
    }
  });

  test("toArrayBuffer gives exactly the frame's bytes", () => {
    const frame = encodeClientFrame({ case: "hello", value: { protocolVersion: 1, tenant: "t" } });
    const view = new Uint8Array(frame.length + 10);
    view.set(frame, 5);
    expect(new Uint8Array(toArrayBuffer(view.subarray(5, 5 + frame.length)))).toEqual(frame);
    expect(new Uint8Array(toArrayBuffer(frame))).toEqual(frame);
  });
});

// ---- server frames: protobuf-es encodes, the k6 codec reads --------------------------------------

/** Encodes with protobuf-es; expects the k6 codec to read what protobuf-es reads. */
function expectDecodedAsProtobufEs(init: MessageInitShape<typeof ServerFrameSchema>): ReturnType<typeof decodeServerFrame> {
  const bytes = pb(ServerFrameSchema, init);
  const decoded = decodeServerFrame(bytes);
  expect(plain(decoded)).toEqual(plain(fromBinary(ServerFrameSchema, bytes).frame));
  return decoded;
}

const deliveryOf = (i: number, timestampMs: bigint, readAtMs: bigint) => ({
  key: i % 2 ? `web-${i}` : "日本 🚀",
  value: i % 3 ? Uint8Array.from({ length: 256 }, (_, b) => b) : new Uint8Array(0),
  contentType: i % 2 ? `application/x-protobuf; messageType=${HTTP_ACCESS_LOG_TYPE}` : "application/json",
  timestampMs,
  kind: i % 2 ? HTTP_ACCESS_LOG_TYPE : "results",
  resumeToken: i % 4 ? `djF8dG9waWN8${i}` : "",
  readAtMs,
});

describe("server frames: read as protobuf-es reads them", () => {
  test("the k6 ResultCode values and names are the schema's", () => {
    const names = Object.keys(PbResultCode).filter((k) => Number.isNaN(Number(k)));
    expect(ResultCode).toEqual(Object.fromEntries(names.map((name) => [name, PbResultCode[name as keyof typeof PbResultCode]])));
    for (const name of names) expect(resultCodeName(PbResultCode[name as keyof typeof PbResultCode])).toBe(name);
    expect(resultCodeName(99)).toBe("CODE_99");
  });

  test("Welcome: every field at the uint32 limits, and the empty Welcome", () => {
    for (const n of UINT32) {
      const value = { sessionId: "sess-ü-1", credit: n, maxBatchEvents: n, maxEventBytes: n, maxFrameBytes: n, gatewayId: "gw-🚀" };
      const expiresAtMs = 1_796_558_160_000 + n;
      expect(expectDecodedAsProtobufEs({ frame: { case: "welcome", value: { ...value, expiresAtMs: BigInt(expiresAtMs) } } })).toEqual({
        case: "welcome",
        value: { ...value, expiresAtMs },
      });
    }
    expect(expectDecodedAsProtobufEs({ frame: { case: "welcome", value: {} } })).toEqual({
      case: "welcome",
      value: { sessionId: "", credit: 0, maxBatchEvents: 0, maxEventBytes: 0, maxFrameBytes: 0, gatewayId: "", expiresAtMs: 0 },
    });
  });

  test("PublishResult: 0, 1 and many results, every result code and ones this version does not know, seq up to 2^53 - 1", () => {
    const codes = [...Object.values(ResultCode), 99, -1]; // open enum: unknown values, negative ones too
    const results = codes.map((code, i) => ({
      id: `ev-${i}-${"é".repeat(i)}`,
      code,
      errorCode: i ? `WEIR_ERR_${i}` : "",
      reason: i ? `reason ${i}: 日本` : "",
      retryAfterMs: UINT32[i % UINT32.length]!,
    }));
    for (const seq of UINT53) {
      for (const some of [[], results.slice(0, 1), results]) {
        for (const credit of [0, 2 ** 32 - 1]) {
          expect(expectDecodedAsProtobufEs({ frame: { case: "result", value: { seq: BigInt(seq), results: some, credit } } })).toEqual({
            case: "result",
            value: { seq, results: some, credit },
          });
        }
      }
    }
  });

  test("CreditGrant, Pong, ProtocolError and Subscribed: every field, and empty", () => {
    for (const credit of UINT32) expectDecodedAsProtobufEs({ frame: { case: "credit", value: { credit } } });
    for (const nonce of UINT53)
      expect(expectDecodedAsProtobufEs({ frame: { case: "pong", value: { nonce: BigInt(nonce) } } })).toEqual({ case: "pong", value: { nonce } });
    for (const s of strings) {
      expectDecodedAsProtobufEs({ frame: { case: "error", value: { errorCode: `WEIR_ERR_${s}`, message: s, closeCode: 4429 } } });
      expectDecodedAsProtobufEs({ frame: { case: "subscribed", value: { stream: `results.${s}`, slowPolicy: s, resumeToken: s } } });
    }
    for (const value of [{}, { closeCode: 2 ** 32 - 1 }]) expectDecodedAsProtobufEs({ frame: { case: "error", value } });
    expect(expectDecodedAsProtobufEs({ frame: { case: "subscribed", value: {} } })).toEqual({
      case: "subscribed",
      value: { stream: "", slowPolicy: "", resumeToken: "" },
    });
    expect(expectDecodedAsProtobufEs({ frame: { case: "credit", value: {} } })).toEqual({ case: "credit", value: { credit: 0 } });
  });

  test("DeliveryBatch: 0, 1 and many deliveries; binary and empty values; times before 1970 and up to ±(2^53 - 1)", () => {
    for (const t of INT53) {
      const deliveries = Array.from({ length: 7 }, (_, i) => deliveryOf(i, BigInt(t), BigInt(-t)));
      for (const some of [[], deliveries.slice(0, 1), deliveries]) {
        const decoded = expectDecodedAsProtobufEs({ frame: { case: "deliveries", value: { deliveries: some } } });
        if (decoded.case !== "deliveries") throw new Error(`decoded ${String(decoded.case)}`);
        expect(decoded.value.deliveries.map((d) => d.timestampMs)).toEqual(some.map(() => t));
      }
    }
    expect(expectDecodedAsProtobufEs({ frame: { case: "deliveries", value: { deliveries: [{}] } } })).toEqual({
      case: "deliveries",
      value: { deliveries: [{ key: "", value: new Uint8Array(0), contentType: "", timestampMs: 0, kind: "", resumeToken: "", readAtMs: 0 }] },
    });
  });

  test("HttpAccessLog payloads: every field at its limits, and the empty log", () => {
    for (const status of INT32) {
      for (const bytesSent of UINT53) {
        const log = {
          host: "web-1",
          method: "GET",
          path: "/t/1732876543210123",
          status,
          bytesSent,
          latencyMs: UINT32[(status >>> 0) % UINT32.length]!,
          clientIp: "10.0.0.1",
          userAgent: "ü 🚀",
        };
        expect(decodeHttpAccessLog(pb(HttpAccessLogSchema, pbLog(log)))).toEqual(log);
      }
    }
    expect(decodeHttpAccessLog(new Uint8Array(0))).toEqual({
      host: "",
      method: "",
      path: "",
      status: 0,
      bytesSent: 0,
      latencyMs: 0,
      clientIp: "",
      userAgent: "",
    });
  });

  test("64-bit integers beyond 2^53 come out as the nearest doubles, within 2 units in the last place", () => {
    const rand = mulberry32(64);
    const nearly = (got: number, want: bigint) => expect(Math.abs(got - Number(want))).toBeLessThanOrEqual(Math.abs(Number(want)) * 2 ** -51);
    for (let i = 0; i < 500; i++) {
      const u = BigInt.asUintN(64, (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32))) | (1n << 53n);
      const s = BigInt.asIntN(64, u);
      const pong = decodeServerFrame(pb(ServerFrameSchema, { frame: { case: "pong", value: { nonce: u } } }));
      if (pong.case !== "pong") throw new Error("not a pong");
      nearly(pong.value.nonce, u);
      const batch = decodeServerFrame(pb(ServerFrameSchema, { frame: { case: "deliveries", value: { deliveries: [{ timestampMs: s, readAtMs: -s }] } } }));
      if (batch.case !== "deliveries") throw new Error("not deliveries");
      nearly(batch.value.deliveries[0]!.timestampMs, s);
      nearly(batch.value.deliveries[0]!.readAtMs, -s);
    }
    for (const edge of [2n ** 63n - 1n, -(2n ** 63n)]) {
      const batch = decodeServerFrame(pb(ServerFrameSchema, { frame: { case: "deliveries", value: { deliveries: [{ timestampMs: edge }] } } }));
      if (batch.case === "deliveries") nearly(batch.value.deliveries[0]!.timestampMs, edge);
    }
  });

  test("uint32 and int32 fields written as wider varints keep their low 32 bits, as protobuf-es reads them", () => {
    const varints = (...fields: Array<[number, bigint]>) => {
      const w = new BinaryWriter();
      for (const [no, v] of fields) w.tag(no, WireType.Varint).uint64(v);
      return w.finish();
    };
    const message = (no: number, content: Uint8Array) => new BinaryWriter().tag(no, WireType.LengthDelimited).bytes(content).finish();
    for (const wide of [2n ** 32n + 5n, 2n ** 33n - 1n, 2n ** 64n - 1n, 2n ** 63n + 2n ** 31n]) {
      const frames = [
        message(1, varints([2, wide], [3, wide], [4, wide], [5, wide])), // Welcome
        message(2, new Uint8Array([...message(2, varints([2, wide], [5, wide])), ...varints([3, wide])])), // PublishResult, EventResult
        message(3, varints([1, wide])), // CreditGrant
        message(5, varints([3, wide])), // ProtocolError
      ];
      for (const bytes of frames) expect(plain(decodeServerFrame(bytes))).toEqual(plain(fromBinary(ServerFrameSchema, bytes).frame));
      const log = varints([4, wide], [6, wide]); // HttpAccessLog status (int32), latency_ms (uint32)
      expect(decodeHttpAccessLog(log)).toEqual(plain(fromBinary(HttpAccessLogSchema, log)));
    }
  });

  test("unknown fields of every wire type are skipped in every message (a newer gateway may add some)", () => {
    const frames: ServerFrame["frame"][] = [
      { case: "welcome", value: create(WelcomeSchema, { sessionId: "s", credit: 3, gatewayId: "g" }) },
      {
        case: "result",
        value: create(PublishResultSchema, {
          seq: 9n,
          credit: 2,
          results: [
            { id: "a", code: 1 },
            { id: "b", code: 4, errorCode: "E", reason: "r", retryAfterMs: 250 },
          ],
        }),
      },
      { case: "credit", value: create(CreditGrantSchema, { credit: 12 }) },
      { case: "pong", value: create(PongSchema, { nonce: 2n ** 40n }) },
      { case: "error", value: create(ProtocolErrorSchema, { errorCode: "E", message: "m", closeCode: 4401 }) },
      { case: "subscribed", value: create(SubscribedSchema, { stream: "alerts", slowPolicy: "conflate", resumeToken: "t" }) },
      { case: "deliveries", value: create(DeliveryBatchSchema, { deliveries: [deliveryOf(1, 5n, 6n), deliveryOf(2, -5n, 0n)] }) },
    ];
    const unknownBytes = toBinary(WelcomeSchema, withUnknownEverywhere(create(WelcomeSchema))).length;
    for (const frame of frames) {
      const cleanBytes = toBinary(ServerFrameSchema, create(ServerFrameSchema, { frame }));
      const noisy = toBinary(ServerFrameSchema, withUnknownEverywhere(create(ServerFrameSchema, { frame })));
      expect(noisy.length).toBeGreaterThanOrEqual(cleanBytes.length + 2 * unknownBytes); // in the frame and in its value, at least
      expect(decodeServerFrame(noisy), frame.case).toEqual(decodeServerFrame(cleanBytes));
      expect(plain(decodeServerFrame(noisy))).toEqual(plain(fromBinary(ServerFrameSchema, noisy).frame));
    }
    const log = create(HttpAccessLogSchema, { host: "h", method: "GET", path: "/", status: -3, bytesSent: 7n, latencyMs: 9, clientIp: "::1", userAgent: "u" });
    expect(decodeHttpAccessLog(toBinary(HttpAccessLogSchema, withUnknownEverywhere(log)))).toEqual(plain(log));
    // A frame this version does not know (ServerFrame field 12), alone or before a known one.
    const future = new BinaryWriter()
      .tag(12, WireType.LengthDelimited)
      .bytes(new Uint8Array([0x08, 0x01]))
      .finish();
    expect(decodeServerFrame(future)).toEqual({ case: undefined, value: undefined });
    expect(decodeServerFrame(new Uint8Array([...future, ...pb(ServerFrameSchema, { frame: { case: "credit", value: { credit: 4 } } })]))).toEqual({
      case: "credit",
      value: { credit: 4 },
    });
    expect(decodeServerFrame(new Uint8Array(0))).toEqual({ case: undefined, value: undefined });
  });

  test("random frames of every kind", () => {
    const rand = mulberry32(11);
    const u64 = () => BigInt(randomOf(rand, UINT53, 0, 2 ** 53));
    const i64 = () => BigInt(randomOf(rand, INT53, -(2 ** 53) + 1, 2 ** 53));
    const u32 = () => randomOf(rand, UINT32, 0, 2 ** 32);
    const many = <T>(max: number, make: () => T) => Array.from({ length: Math.floor(rand() * max) }, make);
    const kinds: Array<() => ServerFrame["frame"]> = [
      () => ({
        case: "welcome",
        value: create(WelcomeSchema, {
          sessionId: randomString(rand),
          credit: u32(),
          maxBatchEvents: u32(),
          maxEventBytes: u32(),
          maxFrameBytes: u32(),
          gatewayId: randomString(rand),
        }),
      }),
      () => ({
        case: "result",
        value: create(PublishResultSchema, {
          seq: u64(),
          credit: u32(),
          results: many(20, () => ({
            id: randomString(rand),
            code: randomOf(rand, INT32, 0, 10),
            errorCode: randomString(rand),
            reason: randomString(rand),
            retryAfterMs: u32(),
          })),
        }),
      }),
      () => ({ case: "credit", value: create(CreditGrantSchema, { credit: u32() }) }),
      () => ({ case: "pong", value: create(PongSchema, { nonce: u64() }) }),
      () => ({ case: "error", value: create(ProtocolErrorSchema, { errorCode: randomString(rand), message: randomString(rand, 200), closeCode: u32() }) }),
      () => ({
        case: "subscribed",
        value: create(SubscribedSchema, { stream: randomString(rand), slowPolicy: randomString(rand), resumeToken: randomString(rand) }),
      }),
      () => ({
        case: "deliveries",
        value: create(DeliveryBatchSchema, {
          deliveries: many(20, () => ({
            key: randomString(rand),
            value: randomBytes(rand),
            contentType: randomString(rand),
            timestampMs: i64(),
            kind: randomString(rand),
            resumeToken: randomString(rand),
            readAtMs: i64(),
          })),
        }),
      }),
    ];
    for (let i = 0; i < 700; i++) {
      const frame = kinds[i % kinds.length]!();
      expectDecodedAsProtobufEs({ frame: rand() < 0.3 ? withUnknownEverywhere(frame) : frame });
    }
  });

  test("truncated frames throw", () => {
    const bytes = pb(ServerFrameSchema, { frame: { case: "deliveries", value: { deliveries: [deliveryOf(1, 1_732_876_543_210n, 1_732_876_543_215n)] } } });
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
