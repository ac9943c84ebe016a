/**
 * PublishBatch frames that carry their send time, for the subscription benchmarks: like
 * frames.ts (one template, fixed-width ids patched in place), and each event's HttpAccessLog
 * `path` is "/t/" + the send time as 16 decimal digits of wall-clock microseconds
 * (performance.timeOrigin + performance.now(), which agrees across threads and processes of one
 * machine to a few µs). A subscriber reads it back from the delivered payload (`sendTimeUsOf`).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { HttpAccessLogSchema } from "../../src/gen/weir/events/v1/access_log_pb.js";
import { ClientFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";

const ID_WIDTH = 24;
const TIME_DIGITS = 16;
const TIME_PREFIX = "/t/";

/** Wall-clock microseconds, comparable between threads and processes of this machine. */
export const wallUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** performance.now() of this thread as wall-clock microseconds. */
export const toWallUs = (perfNowMs: number): number => Math.round((performance.timeOrigin + perfNowMs) * 1000);

export type TimedFrameFactory = {
  readonly eventsPerFrame: number;
  readonly bytesPerFrame: number;
  /** A frame whose events get ids `${prefix}${n}` for n in [first, first + eventsPerFrame) and send time `sendUs`. */
  frame(first: number, sendUs: number): Buffer;
  /** The counter encoded in an event id made by this factory. */
  counterOf(id: string): number;
};

export function timedFrameFactory(prefix: string, eventsPerFrame: number, opts: { seed?: number; hosts?: readonly string[] } = {}): TimedFrameFactory {
  const digits = ID_WIDTH - prefix.length;
  if (digits < 10) throw new Error(`id prefix ${prefix} too long`);
  const idPlaceholder = (j: number) => `${prefix}${"#".repeat(digits - 6)}${String(j).padStart(6, "0")}`;
  const timePlaceholder = TIME_PREFIX + "~".repeat(TIME_DIGITS);
  const rng = createRng(opts.seed ?? 1);
  const baseTimeMs = Date.now() - 60_000;
  const events = Array.from({ length: eventsPerFrame }, (_, j) => {
    const e = accessLogEvent(rng, j, { baseTimeMs, maxDisorderMs: 0 });
    const host = opts.hosts?.[j % opts.hosts.length];
    const payload = { ...fromBinary(HttpAccessLogSchema, e.payload), path: timePlaceholder, ...(host ? { host } : {}) };
    // The payload is encoded bytes: re-encode it with the time placeholder as its path.
    return { ...e, id: idPlaceholder(j), partitionKey: host ?? e.partitionKey, payload: toBinary(HttpAccessLogSchema, payload) };
  });
  const template = Buffer.from(toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: { case: "publish", value: { seq: 1n, events: events } } })));
  const idAt: number[] = [];
  const timeAt: number[] = [];
  for (let j = 0; j < eventsPerFrame; j++) {
    const at = template.indexOf(events[j]!.id, 0, "latin1");
    if (at < 0) throw new Error(`id placeholder ${j} not found`);
    // The payload follows the id within the same envelope.
    const t = template.indexOf(timePlaceholder, at, "latin1");
    if (t < 0) throw new Error(`time placeholder ${j} not found`);
    idAt.push(at);
    timeAt.push(t + TIME_PREFIX.length);
  }
  return {
    eventsPerFrame,
    bytesPerFrame: template.length,
    frame(first, sendUs) {
      const out = Buffer.from(template);
      const time = String(sendUs).padStart(TIME_DIGITS, "0");
      for (let j = 0; j < eventsPerFrame; j++) {
        out.write(prefix + String(first + j).padStart(digits, "0"), idAt[j]!, "latin1");
        out.write(time, timeAt[j]!, "latin1");
      }
      return out;
    },
    counterOf: (id) => Number(id.slice(prefix.length)),
  };
}

/**
 * The send time (wall µs) in a delivered HttpAccessLog payload bytes[start, end) made by this
 * factory, or -1. Reads only the tags, no allocation.
 */
export function sendTimeUsOf(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const tag = bytes[i++]!;
    const wt = tag & 7;
    if (wt === 0) {
      while (bytes[i++]! & 0x80);
      continue;
    }
    if (wt !== 2) return -1;
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++]!;
      len |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    if (tag >> 3 === 3) {
      if (len !== TIME_PREFIX.length + TIME_DIGITS || bytes[i + 1] !== 0x74 /* t */) return -1;
      let v = 0;
      for (let k = i + TIME_PREFIX.length; k < i + len; k++) {
        const d = bytes[k]! - 48;
        if (d < 0 || d > 9) return -1;
        v = v * 10 + d;
      }
      return v;
    }
    i += len;
  }
  return -1;
}
