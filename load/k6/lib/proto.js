/**
 * A minimal, hand-rolled Protobuf codec for the Weir wire protocol, bundled with the k6 scripts.
 *
 * k6 has no Protobuf library and resolves no npm packages, and protobuf-es bundled for it would
 * need k6 v2.2.0 or later and cost every VU about 0.25 s and 7 MB to start (load/README.md, "Why a
 * hand-rolled codec"). So this file uses nothing but plain ES2015+ (Uint8Array, Math) — no
 * TextEncoder/TextDecoder, no BigInt, no Node globals. It covers exactly the messages the ingest
 * and subscribe scripts need; the field numbers come from proto/weir/v1/protocol.proto,
 * envelope.proto and weir/events/v1/access_log.proto. test/load/proto.test.ts checks every field
 * it writes or reads against the generated protobuf-es schemas, both ways.
 *
 * 64-bit integers (seq, nonce, bytes_sent, Timestamp.seconds, the epoch milliseconds of a
 * subscription) are JS numbers: exact up to 2^53 - 1, which is plenty for sequence numbers, byte
 * counts and times. Larger values throw on encode and lose precision on decode.
 */

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;

const TWO_32 = 4294967296;

/** weir.v1.ResultCode */
export const ResultCode = {
  UNSPECIFIED: 0,
  ACK: 1,
  DUPLICATE: 2,
  INVALID: 3,
  RETRY_AFTER: 4,
  UNAUTHORIZED: 5,
  TOO_LARGE: 6,
  UNKNOWN_TYPE: 7,
};

const resultCodeNames = ["UNSPECIFIED", "ACK", "DUPLICATE", "INVALID", "RETRY_AFTER", "UNAUTHORIZED", "TOO_LARGE", "UNKNOWN_TYPE"];

export function resultCodeName(code) {
  return resultCodeNames[code] || "CODE_" + code;
}

export const HTTP_ACCESS_LOG_TYPE = "weir.events.v1.HttpAccessLog";

// ---------------------------------------------------------------------------------------------
// UTF-8

/** Bytes of the UTF-8 encoding of `s` (lone surrogates count as U+FFFD, as TextEncoder does). */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function writeUtf8(s, buf, pos) {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      buf[pos++] = 0xf0 | (cp >> 18);
      buf[pos++] = 0x80 | ((cp >> 12) & 0x3f);
      buf[pos++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[pos++] = 0x80 | (cp & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    }
  }
  return pos;
}

/** UTF-8 encoding of a string, without TextEncoder. */
export function encodeUtf8(s) {
  const out = new Uint8Array(utf8Length(s));
  writeUtf8(s, out, 0);
  return out;
}

/**
 * Decodes UTF-8 bytes[start, end). Invalid sequences become U+FFFD (one per bad lead byte, so the
 * count of replacement characters can differ from TextDecoder's; valid input decodes the same).
 */
export function decodeUtf8(bytes, start, end) {
  if (start === undefined) start = 0;
  if (end === undefined) end = bytes.length;
  let out = "";
  const units = [];
  let i = start;
  while (i < end) {
    const b = bytes[i];
    let cp = 0xfffd;
    let need = 0;
    let min = 0;
    if (b < 0x80) {
      cp = b;
    } else if (b >= 0xc2 && b <= 0xdf) {
      cp = b & 0x1f;
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      cp = b & 0x0f;
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      cp = b & 0x07;
      need = 3;
      min = 0x10000;
    }
    i++;
    if (need > 0) {
      let ok = i + need <= end;
      for (let k = 0; ok && k < need; k++) if ((bytes[i + k] & 0xc0) !== 0x80) ok = false;
      if (ok) {
        for (let k = 0; k < need; k++) cp = (cp << 6) | (bytes[i + k] & 0x3f);
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
        i += need;
      } else {
        cp = 0xfffd; // skip only the lead byte, resynchronise on the next one
      }
    }
    if (cp > 0xffff) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else units.push(cp);
    if (units.length >= 4096) {
      out += String.fromCharCode.apply(null, units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode.apply(null, units);
}

// ---------------------------------------------------------------------------------------------
// Writer

function checkInteger(v, what) {
  if (typeof v !== "number" || !Number.isFinite(v) || Math.floor(v) !== v) throw new TypeError(what + ": not an integer: " + v);
  if (v > Number.MAX_SAFE_INTEGER || v < -Number.MAX_SAFE_INTEGER) throw new RangeError(what + ": beyond 2^53: " + v);
}

/** Appends Protobuf wire format to a growing buffer. Field methods skip proto3 default values. */
export class Writer {
  constructor(capacity) {
    this.buf = new Uint8Array(capacity || 256);
    this.pos = 0;
  }

  ensure(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Unsigned varint of a number in [0, 2^53). */
  varint(v) {
    if (v >= 0 && v < TWO_32 && v === v >>> 0) {
      this.ensure(5);
      while (v > 127) {
        this.buf[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return this;
    }
    checkInteger(v, "varint");
    if (v < 0) throw new RangeError("varint: negative " + v);
    return this.varint64(v % TWO_32, Math.floor(v / TWO_32));
  }

  /** Varint of a 64-bit value given as two unsigned 32-bit halves. */
  varint64(lo, hi) {
    this.ensure(10);
    lo = lo >>> 0;
    hi = hi >>> 0;
    while (hi > 0 || lo > 127) {
      this.buf[this.pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi = hi >>> 7;
    }
    this.buf[this.pos++] = lo;
    return this;
  }

  /** int32/int64 varint: negative values take ten bytes (two's complement), as Protobuf says. */
  signedVarint(v) {
    checkInteger(v, "int");
    if (v >= 0) return this.varint(v);
    const hi = Math.floor(v / TWO_32); // negative
    const lo = v - hi * TWO_32; // 0 .. 2^32-1
    return this.varint64(lo, hi >>> 0);
  }

  tag(field, wireType) {
    return this.varint(field * 8 + wireType);
  }

  rawBytes(bytes) {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  // Field writers (proto3 implicit presence: zero values are not written).

  uint(field, v) {
    if (v) this.tag(field, VARINT).varint(v);
    return this;
  }

  int(field, v) {
    if (v) this.tag(field, VARINT).signedVarint(v);
    return this;
  }

  string(field, s) {
    if (!s) return this;
    const n = utf8Length(s);
    this.tag(field, LEN).varint(n);
    this.ensure(n);
    this.pos = writeUtf8(s, this.buf, this.pos);
    return this;
  }

  /** A string written even when empty (map entries). */
  stringAlways(field, s) {
    const n = utf8Length(s);
    this.tag(field, LEN).varint(n);
    this.ensure(n);
    this.pos = writeUtf8(s, this.buf, this.pos);
    return this;
  }

  bytes(field, b) {
    if (!b || b.length === 0) return this;
    return this.message(field, b);
  }

  /** A length-delimited field holding already-encoded bytes (a sub-message), written even when empty. */
  message(field, encoded) {
    this.tag(field, LEN).varint(encoded.length);
    return this.rawBytes(encoded);
  }

  /** The bytes written so far, as a new exact-size Uint8Array. */
  finish() {
    return this.buf.slice(0, this.pos);
  }
}

/** An ArrayBuffer holding exactly these bytes (what k6's WebSocket.send takes). */
export function toArrayBuffer(u8) {
  if (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength) return u8.buffer;
  return u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Encoders (client → gateway). Field names follow protobuf-es (camelCase).

/** google.protobuf.Timestamp from milliseconds since the epoch. */
export function timestampFromMs(ms) {
  const seconds = Math.floor(ms / 1000);
  return { seconds: seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** google.protobuf.Timestamp {seconds, nanos} */
export function encodeTimestamp(ts) {
  return new Writer(16).int(1, ts.seconds).int(2, ts.nanos).finish();
}

/** weir.events.v1.HttpAccessLog {host, method, path, status, bytesSent, latencyMs, clientIp, userAgent} */
export function encodeHttpAccessLog(log) {
  return new Writer(128)
    .string(1, log.host)
    .string(2, log.method)
    .string(3, log.path)
    .int(4, log.status)
    .uint(5, log.bytesSent)
    .uint(6, log.latencyMs)
    .string(7, log.clientIp)
    .string(8, log.userAgent)
    .finish();
}

/**
 * weir.v1.Envelope {id, tenant, type, eventTime: {seconds, nanos}, partitionKey, traceparent,
 * payload: Uint8Array, attributes: {name: value}}
 */
export function encodeEnvelope(env) {
  const w = new Writer(64 + (env.payload ? env.payload.length : 0));
  w.string(1, env.id).string(2, env.tenant).string(3, env.type);
  if (env.eventTime) w.message(4, encodeTimestamp(env.eventTime));
  w.string(5, env.partitionKey).string(6, env.traceparent).bytes(7, env.payload);
  if (env.attributes) {
    for (const name of Object.keys(env.attributes)) {
      const entry = new Writer(32).stringAlways(1, name).stringAlways(2, env.attributes[name]).finish();
      w.message(8, entry);
    }
  }
  return w.finish();
}

/** weir.v1.Hello {protocolVersion, tenant, apiKey, clientId} */
export function encodeHello(hello) {
  return new Writer(64).uint(1, hello.protocolVersion).string(2, hello.tenant).string(3, hello.apiKey).string(4, hello.clientId).finish();
}

/**
 * weir.v1.PublishBatch from already-encoded envelopes (encodeEnvelope), so a retry re-sends the
 * same bytes without encoding them again.
 */
export function encodePublishBatch(seq, encodedEvents) {
  let size = 11;
  for (let i = 0; i < encodedEvents.length; i++) size += encodedEvents[i].length + 6;
  const w = new Writer(size).uint(1, seq);
  for (let i = 0; i < encodedEvents.length; i++) w.message(2, encodedEvents[i]);
  return w.finish();
}

/** weir.v1.ClientFrame with publish = PublishBatch{seq, events}, from already-encoded envelopes. */
export function encodePublishFrame(seq, encodedEvents) {
  const batch = encodePublishBatch(seq, encodedEvents);
  return new Writer(batch.length + 6).message(2, batch).finish();
}

/**
 * weir.v1.Subscribe {stream, key, keyPrefix, start}: `start` as protobuf-es's oneof,
 * {case: "resumeToken", value: string} | {case: "fromTimestampMs", value: epoch ms} |
 * {case: "fromEarliest", value: true}, or absent / {case: undefined} for the latest. A oneof
 * member is written even when it holds its zero value (it has explicit presence).
 */
export function encodeSubscribe(sub) {
  const w = new Writer(64 + utf8Length(sub.stream || "") + utf8Length(sub.key || "") + utf8Length(sub.keyPrefix || ""));
  w.string(1, sub.stream).string(2, sub.key).string(3, sub.keyPrefix);
  const start = sub.start || { case: undefined };
  switch (start.case) {
    case undefined:
      break;
    case "resumeToken":
      w.stringAlways(4, start.value || "");
      break;
    case "fromTimestampMs":
      w.tag(5, VARINT).signedVarint(start.value);
      break;
    case "fromEarliest":
      w.tag(6, VARINT).varint(start.value ? 1 : 0);
      break;
    default:
      throw new Error("encodeSubscribe: unknown start case " + start.case);
  }
  return w.finish();
}

/**
 * weir.v1.ClientFrame from {case: "hello" | "publish" | "ping" | "subscribe", value}. For publish,
 * `events` holds Envelope objects (see encodeEnvelope) or already-encoded Uint8Arrays.
 */
export function encodeClientFrame(frame) {
  switch (frame.case) {
    case "hello":
      return new Writer(80).message(1, encodeHello(frame.value)).finish();
    case "publish": {
      const events = (frame.value.events || []).map((e) => (e instanceof Uint8Array ? e : encodeEnvelope(e)));
      return encodePublishFrame(frame.value.seq || 0, events);
    }
    case "ping":
      return new Writer(16).message(3, new Writer(12).uint(1, frame.value.nonce).finish()).finish();
    case "subscribe": {
      const sub = encodeSubscribe(frame.value);
      return new Writer(sub.length + 6).message(10, sub).finish();
    }
    default:
      throw new Error("encodeClientFrame: unknown frame case " + frame.case);
  }
}

// ---------------------------------------------------------------------------------------------
// Reader / decoders (gateway → client)

export class Reader {
  constructor(bytes, start, end) {
    this.buf = bytes;
    this.pos = start || 0;
    this.end = end === undefined ? bytes.length : end;
  }

  /** Unsigned varint as a number (exact below 2^53). */
  varint() {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("proto: truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 127) * scale;
      if (b < 128) return result;
      scale *= 128;
    }
    throw new Error("proto: varint longer than 10 bytes");
  }

  /**
   * An int64 field as a number: exact within ±2^53; negative values (ten-byte varints, two's
   * complement) come out negative.
   */
  int64() {
    let lo = 0;
    let hi = 0;
    for (let i = 0, shift = 0; i < 10; i++, shift += 7) {
      if (this.pos >= this.end) throw new Error("proto: truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 127) << shift;
      else if (shift === 28) {
        lo |= (b & 15) << 28;
        hi |= (b & 127) >> 4;
      } else hi |= (b & 127) << (shift - 32);
      if (b < 128) {
        lo >>>= 0;
        hi >>>= 0;
        if (hi >= 0x80000000) return -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1);
        return hi * TWO_32 + lo;
      }
    }
    throw new Error("proto: varint longer than 10 bytes");
  }

  /**
   * The low 32 bits of a varint of any length, exactly: what Protobuf keeps of a uint32, int32
   * or enum field (a negative int32 is sign-extended to ten bytes on the wire).
   */
  low32() {
    let lo = 0;
    for (let i = 0, shift = 0; i < 10; i++, shift += 7) {
      if (this.pos >= this.end) throw new Error("proto: truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 32) lo |= (b & 127) << shift;
      if (b < 128) return lo >>> 0;
    }
    throw new Error("proto: varint longer than 10 bytes");
  }

  /** An int32 or enum field. */
  int32() {
    return this.low32() | 0;
  }

  /** Bytes of a length-delimited field: a view into the frame (copy it to keep it). */
  bytes() {
    const s = this.span();
    return this.buf.subarray(s[0], s[1]);
  }

  /** A uint32 field (keeps the low 32 bits, as Protobuf does). */
  uint32() {
    return this.low32();
  }

  /** Start and end offsets of a length-delimited field's content. */
  span() {
    const n = this.varint();
    const start = this.pos;
    if (start + n > this.end) throw new Error("proto: truncated length-delimited field");
    this.pos = start + n;
    return [start, start + n];
  }

  string() {
    const s = this.span();
    return decodeUtf8(this.buf, s[0], s[1]);
  }

  skip(wireType, field) {
    switch (wireType) {
      case VARINT:
        this.varint();
        break;
      case I64:
        this.pos += 8;
        break;
      case LEN:
        this.span();
        break;
      case I32:
        this.pos += 4;
        break;
      case SGROUP:
        for (;;) {
          const t = this.varint();
          if ((t & 7) === EGROUP) {
            if (Math.floor(t / 8) !== field) throw new Error("proto: mismatched end group");
            break;
          }
          this.skip(t & 7, Math.floor(t / 8));
        }
        break;
      default:
        throw new Error("proto: unexpected wire type " + wireType);
    }
    if (this.pos > this.end) throw new Error("proto: truncated field");
  }

  /** Calls fn(field, wireType) for each field until the end; fn returns false to skip it. */
  fields(fn) {
    while (this.pos < this.end) {
      const t = this.varint();
      const field = Math.floor(t / 8);
      const wt = t & 7;
      if (field === 0) throw new Error("proto: field number 0");
      if (fn(field, wt) === false) this.skip(wt, field);
    }
    return this;
  }

  /** A Reader over the content of a length-delimited field. */
  sub() {
    const s = this.span();
    return new Reader(this.buf, s[0], s[1]);
  }
}

function expectWire(wt, want, what) {
  if (wt !== want) throw new Error("proto: " + what + " has wire type " + wt + ", expected " + want);
}

function decodeWelcome(r) {
  const m = { sessionId: "", credit: 0, maxBatchEvents: 0, maxEventBytes: 0, maxFrameBytes: 0, gatewayId: "", expiresAtMs: 0 };
  r.fields((f, wt) => {
    switch (f) {
      case 1:
        expectWire(wt, LEN, "Welcome.session_id");
        m.sessionId = r.string();
        return;
      case 2:
        expectWire(wt, VARINT, "Welcome.credit");
        m.credit = r.uint32();
        return;
      case 3:
        expectWire(wt, VARINT, "Welcome.max_batch_events");
        m.maxBatchEvents = r.uint32();
        return;
      case 4:
        expectWire(wt, VARINT, "Welcome.max_event_bytes");
        m.maxEventBytes = r.uint32();
        return;
      case 5:
        expectWire(wt, VARINT, "Welcome.max_frame_bytes");
        m.maxFrameBytes = r.uint32();
        return;
      case 6:
        expectWire(wt, LEN, "Welcome.gateway_id");
        m.gatewayId = r.string();
        return;
      case 7:
        expectWire(wt, VARINT, "Welcome.expires_at_ms");
        m.expiresAtMs = r.int64();
        return;
    }
    return false;
  });
  return m;
}

function decodeEventResult(r) {
  const m = { id: "", code: 0, errorCode: "", reason: "", retryAfterMs: 0 };
  r.fields((f, wt) => {
    switch (f) {
      case 1:
        expectWire(wt, LEN, "EventResult.id");
        m.id = r.string();
        return;
      case 2:
        expectWire(wt, VARINT, "EventResult.code");
        m.code = r.int32(); // an enum: int32 on the wire
        return;
      case 3:
        expectWire(wt, LEN, "EventResult.error_code");
        m.errorCode = r.string();
        return;
      case 4:
        expectWire(wt, LEN, "EventResult.reason");
        m.reason = r.string();
        return;
      case 5:
        expectWire(wt, VARINT, "EventResult.retry_after_ms");
        m.retryAfterMs = r.uint32();
        return;
    }
    return false;
  });
  return m;
}

function decodePublishResult(r) {
  const m = { seq: 0, results: [], credit: 0 };
  r.fields((f, wt) => {
    switch (f) {
      case 1:
        expectWire(wt, VARINT, "PublishResult.seq");
        m.seq = r.varint();
        return;
      case 2:
        expectWire(wt, LEN, "PublishResult.results");
        m.results.push(decodeEventResult(r.sub()));
        return;
      case 3:
        expectWire(wt, VARINT, "PublishResult.credit");
        m.credit = r.uint32();
        return;
    }
    return false;
  });
  return m;
}

function decodeSingleUint(r, what, big) {
  let v = 0;
  r.fields((f, wt) => {
    if (f !== 1) return false;
    expectWire(wt, VARINT, what);
    v = big ? r.varint() : r.uint32();
  });
  return v;
}

function decodeProtocolError(r) {
  const m = { errorCode: "", message: "", closeCode: 0 };
  r.fields((f, wt) => {
    switch (f) {
      case 1:
        expectWire(wt, LEN, "ProtocolError.error_code");
        m.errorCode = r.string();
        return;
      case 2:
        expectWire(wt, LEN, "ProtocolError.message");
        m.message = r.string();
        return;
      case 3:
        expectWire(wt, VARINT, "ProtocolError.close_code");
        m.closeCode = r.uint32();
        return;
    }
    return false;
  });
  return m;
}

function decodeSubscribed(r) {
  const m = { stream: "", slowPolicy: "", resumeToken: "" };
  r.fields((f, wt) => {
    switch (f) {
      case 1:
        expectWire(wt, LEN, "Subscribed.stream");
        m.stream = r.string();
        return;
      case 2:
        expectWire(wt, LEN, "Subscribed.slow_policy");
        m.slowPolicy = r.string();
        return;
      case 3:
        expectWire(wt, LEN, "Subscribed.resume_token");
        m.resumeToken = r.string();
        return;
    }
    return false;
  });
  return m;
}

/**
 * weir.v1.Delivery {key, value, contentType, timestampMs, kind, resumeToken, readAtMs}; `value`
 * is a view into the frame's bytes.
 */
function decodeDelivery(r) {
  const m = { key: "", value: new Uint8Array(0), contentType: "", timestampMs: 0, kind: "", resumeToken: "", readAtMs: 0 };
  r.fields((f, wt) => {
    switch (f) {
      case 1:
        expectWire(wt, LEN, "Delivery.key");
        m.key = r.string();
        return;
      case 2:
        expectWire(wt, LEN, "Delivery.value");
        m.value = r.bytes();
        return;
      case 3:
        expectWire(wt, LEN, "Delivery.content_type");
        m.contentType = r.string();
        return;
      case 4:
        expectWire(wt, VARINT, "Delivery.timestamp_ms");
        m.timestampMs = r.int64();
        return;
      case 5:
        expectWire(wt, LEN, "Delivery.kind");
        m.kind = r.string();
        return;
      case 6:
        expectWire(wt, LEN, "Delivery.resume_token");
        m.resumeToken = r.string();
        return;
      case 7:
        expectWire(wt, VARINT, "Delivery.read_at_ms");
        m.readAtMs = r.int64();
        return;
    }
    return false;
  });
  return m;
}

function decodeDeliveryBatch(r) {
  const m = { deliveries: [] };
  r.fields((f, wt) => {
    if (f !== 1) return false;
    expectWire(wt, LEN, "DeliveryBatch.deliveries");
    m.deliveries.push(decodeDelivery(r.sub()));
  });
  return m;
}

/**
 * Decodes a weir.v1.ServerFrame into {case, value}, shaped like protobuf-es's oneof:
 * case "welcome" | "result" | "credit" | "pong" | "error" | "subscribed" | "deliveries", or
 * undefined for an empty or unknown frame. credit → {credit}, pong → {nonce}, subscribed →
 * {stream, slowPolicy, resumeToken}, deliveries → {deliveries: [Delivery]} (see decodeDelivery).
 */
export function decodeServerFrame(bytes) {
  const r = new Reader(bytes);
  let frame = { case: undefined, value: undefined };
  r.fields((f, wt) => {
    if ((f < 1 || f > 5) && f !== 10 && f !== 11) return false;
    expectWire(wt, LEN, "ServerFrame field " + f);
    const sub = r.sub();
    switch (f) {
      case 1:
        frame = { case: "welcome", value: decodeWelcome(sub) };
        break;
      case 2:
        frame = { case: "result", value: decodePublishResult(sub) };
        break;
      case 3:
        frame = { case: "credit", value: { credit: decodeSingleUint(sub, "CreditGrant.credit", false) } };
        break;
      case 4:
        frame = { case: "pong", value: { nonce: decodeSingleUint(sub, "Pong.nonce", true) } };
        break;
      case 5:
        frame = { case: "error", value: decodeProtocolError(sub) };
        break;
      case 10:
        frame = { case: "subscribed", value: decodeSubscribed(sub) };
        break;
      case 11:
        frame = { case: "deliveries", value: decodeDeliveryBatch(sub) };
        break;
    }
  });
  return frame;
}

/**
 * Decodes a weir.events.v1.HttpAccessLog payload (the value of a delivery from
 * "events.weir.events.v1.HttpAccessLog"): {host, method, path, status, bytesSent, latencyMs,
 * clientIp, userAgent}.
 */
export function decodeHttpAccessLog(bytes) {
  const r = new Reader(bytes);
  const m = { host: "", method: "", path: "", status: 0, bytesSent: 0, latencyMs: 0, clientIp: "", userAgent: "" };
  const strings = { 1: "host", 2: "method", 3: "path", 7: "clientIp", 8: "userAgent" };
  r.fields((f, wt) => {
    if (strings[f]) {
      expectWire(wt, LEN, "HttpAccessLog." + strings[f]);
      m[strings[f]] = r.string();
      return;
    }
    switch (f) {
      case 4:
        expectWire(wt, VARINT, "HttpAccessLog.status");
        m.status = r.int32();
        return;
      case 5:
        expectWire(wt, VARINT, "HttpAccessLog.bytes_sent");
        m.bytesSent = r.varint();
        return;
      case 6:
        expectWire(wt, VARINT, "HttpAccessLog.latency_ms");
        m.latencyMs = r.uint32();
        return;
    }
    return false;
  });
  return m;
}
