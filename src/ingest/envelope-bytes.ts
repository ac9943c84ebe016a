/**
 * An envelope's size as the limits count it: payload, attributes, ids, type, partition key and
 * trace context, in UTF-8 bytes, plus a fixed amount for the event time. Every byte a client sends
 * in an event counts, so WEIR_MAX_EVENT_BYTES and the in-flight byte bound cannot be walked around
 * by putting data in attributes. Portable (no Buffer): the relay runs it on Deno.
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";

const EVENT_TIME_BYTES = 12;

export function envelopeBytes(env: Envelope): number {
  let n = env.payload.byteLength + EVENT_TIME_BYTES;
  n += utf8Length(env.id) + utf8Length(env.tenant) + utf8Length(env.type) + utf8Length(env.partitionKey) + utf8Length(env.traceparent);
  for (const key in env.attributes) n += utf8Length(key) + utf8Length(env.attributes[key]!);
  return n;
}

/** UTF-8 length of a string without encoding it (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 UTF-16 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** The index of the first control character (U+0000..U+001F, U+007F) in `s`, or -1. */
export function controlCharAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
  }
  return -1;
}
