/**
 * The few frames of the subscription protocol the dashboard speaks (proto/weir/v1/protocol.proto),
 * encoded and decoded by hand: ClientFrame hello/subscribe out; ServerFrame welcome, subscribed,
 * deliveries and error in. Other frames decode as { case: undefined }; unknown fields are skipped.
 *
 * 64-bit integers (timestamps in ms) are JS numbers: exact up to 2^53, years beyond anything here.
 */

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

const utf8 = new TextEncoder();
const text = new TextDecoder();

// ---- writing -------------------------------------------------------------------------------

/** Appends a varint of a non-negative integer below 2^53. */
function varint(out, v) {
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function lengthDelimited(out, field, bytes) {
  varint(out, field * 8 + LEN);
  varint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** A string field; proto3 leaves out the empty string unless `always` (a oneof member). */
function string(out, field, s, always = false) {
  if (s || always) lengthDelimited(out, field, utf8.encode(s ?? ""));
}

function uint(out, field, v, always = false) {
  if (!v && !always) return;
  varint(out, field * 8 + VARINT);
  varint(out, v);
}

/** ClientFrame { hello = 1 { protocol_version = 1, tenant = 2, api_key = 3, client_id = 4 } } */
export function encodeHello({ tenant, apiKey, clientId = "weir-dashboard" }) {
  const hello = [];
  uint(hello, 1, 1);
  string(hello, 2, tenant);
  string(hello, 3, apiKey);
  string(hello, 4, clientId);
  const frame = [];
  lengthDelimited(frame, 1, hello);
  return new Uint8Array(frame);
}

/**
 * ClientFrame { subscribe = 10 { stream = 1, key = 2, key_prefix = 3,
 *   oneof start { resume_token = 4, from_timestamp_ms = 5, from_earliest = 6 } } }
 * Without a start the gateway begins at the latest record.
 */
export function encodeSubscribe({ stream, key, keyPrefix, resumeToken, fromTimestampMs, fromEarliest }) {
  const sub = [];
  string(sub, 1, stream);
  string(sub, 2, key);
  string(sub, 3, keyPrefix);
  if (resumeToken !== undefined) string(sub, 4, resumeToken, true);
  else if (fromTimestampMs !== undefined) uint(sub, 5, Math.max(0, Math.floor(fromTimestampMs)), true);
  else if (fromEarliest) uint(sub, 6, 1, true);
  const frame = [];
  lengthDelimited(frame, 10, sub);
  return new Uint8Array(frame);
}

// ---- reading -------------------------------------------------------------------------------

class Reader {
  constructor(bytes, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  get done() {
    return this.pos >= this.end;
  }

  varint() {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.bytes[this.pos++];
      v += (b & 127) * scale;
      if (b < 128) return v;
      scale *= 128;
    }
    throw new Error("varint longer than 10 bytes");
  }

  /** [start, end) of a length-delimited field's content. */
  span() {
    const n = this.varint();
    const start = this.pos;
    if (start + n > this.end) throw new Error("truncated field");
    this.pos += n;
    return [start, start + n];
  }

  string() {
    const [s, e] = this.span();
    return text.decode(this.bytes.subarray(s, e));
  }

  bytesField() {
    const [s, e] = this.span();
    return this.bytes.slice(s, e);
  }

  skip(wire) {
    if (wire === VARINT) this.varint();
    else if (wire === I64) this.pos += 8;
    else if (wire === LEN) this.span();
    else if (wire === I32) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error("truncated field");
  }

  /** Calls onField(field, wire) for each field; onField returns false for fields it did not read. */
  fields(onField) {
    while (!this.done) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (onField(field, wire) === false) this.skip(wire);
    }
  }

  /** A sub-reader over a length-delimited field's content. */
  message() {
    const [s, e] = this.span();
    return new Reader(this.bytes, s, e);
  }
}

/** Reads a message whose fields map field number → [name, kind]; absent fields keep proto3 defaults. */
function readMessage(r, spec) {
  const out = {};
  for (const [name, kind] of Object.values(spec)) out[name] = kind === "string" ? "" : kind === "bytes" ? new Uint8Array(0) : 0;
  r.fields((field, wire) => {
    const f = spec[field];
    if (!f || wire !== (f[1] === "varint" ? VARINT : LEN)) return false;
    const [name, kind] = f;
    out[name] = kind === "string" ? r.string() : kind === "bytes" ? r.bytesField() : r.varint();
  });
  return out;
}

const WELCOME = { 1: ["sessionId", "string"], 6: ["gatewayId", "string"] };
const ERROR = { 1: ["errorCode", "string"], 2: ["message", "string"], 3: ["closeCode", "varint"] };
const SUBSCRIBED = { 1: ["stream", "string"], 2: ["slowPolicy", "string"] };
const DELIVERY = {
  1: ["key", "string"],
  2: ["value", "bytes"],
  3: ["contentType", "string"],
  4: ["timestampMs", "varint"],
  5: ["kind", "string"],
  6: ["resumeToken", "string"],
  7: ["readAtMs", "varint"],
};

/** ServerFrame → { case: "welcome" | "error" | "subscribed" | "deliveries" | undefined, value }. */
export function decodeServerFrame(bytes) {
  const r = new Reader(bytes);
  let frame = { case: undefined, value: undefined };
  r.fields((field, wire) => {
    if (wire !== LEN) return false;
    if (field === 1) frame = { case: "welcome", value: readMessage(r.message(), WELCOME) };
    else if (field === 5) frame = { case: "error", value: readMessage(r.message(), ERROR) };
    else if (field === 10) frame = { case: "subscribed", value: readMessage(r.message(), SUBSCRIBED) };
    else if (field === 11) {
      const deliveries = [];
      const batch = r.message();
      batch.fields((f, w) => {
        if (f !== 1 || w !== LEN) return false;
        deliveries.push(readMessage(batch.message(), DELIVERY));
      });
      frame = { case: "deliveries", value: { deliveries } };
    } else return false;
  });
  return frame;
}
