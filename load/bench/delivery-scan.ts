/**
 * A cheap reader of the gateway's ServerFrames for the benchmark's subscribers: it walks the
 * wire format of a DeliveryBatch and hands over each Delivery's value span and its two times
 * without building objects or decoding strings, so a thousand subscribers on one thread measure
 * the gateway rather than their own decoding (field numbers from proto/weir/v1/protocol.proto;
 * checked against protobuf-es by test/integration/k6-subscribe.test.ts).
 */

/** ServerFrame oneof field numbers. */
export const ServerFrameField = { welcome: 1, error: 5, subscribed: 10, deliveries: 11 } as const;

export type DeliveryVisitor = (bytes: Uint8Array, valueStart: number, valueEnd: number, timestampMs: number, readAtMs: number) => void;

let pos = 0;

function varint(b: Uint8Array): number {
  let v = 0;
  let scale = 1;
  for (;;) {
    const x = b[pos++]!;
    v += (x & 0x7f) * scale;
    if (x < 0x80) return v;
    scale *= 128;
  }
}

function skip(b: Uint8Array, wireType: number): void {
  if (wireType === 0) varint(b);
  else if (wireType === 2) {
    const n = varint(b); // (not `pos += varint(b)`: that reads pos before varint moves it)
    pos += n;
  } else if (wireType === 1) pos += 8;
  else if (wireType === 5) pos += 4;
  else throw new Error(`unexpected wire type ${wireType}`);
}

/**
 * The ServerFrame case of `bytes` (its field number, 0 when empty); for a DeliveryBatch, calls
 * `visit` for every Delivery in order. Throws on malformed input.
 */
export function scanServerFrame(bytes: Uint8Array, visit: DeliveryVisitor): number {
  pos = 0;
  let kind = 0;
  while (pos < bytes.length) {
    const tag = varint(bytes);
    const field = Math.floor(tag / 8);
    if (field !== ServerFrameField.deliveries || (tag & 7) !== 2) {
      kind = field;
      skip(bytes, tag & 7);
      continue;
    }
    kind = field;
    const batchLength = varint(bytes);
    const batchEnd = pos + batchLength;
    while (pos < batchEnd) {
      const t = varint(bytes);
      if (t !== 0x0a) {
        skip(bytes, t & 7);
        continue;
      }
      const length = varint(bytes);
      const end = pos + length;
      let valueStart = 0;
      let valueEnd = 0;
      let timestampMs = 0;
      let readAtMs = 0;
      while (pos < end) {
        const dt = varint(bytes);
        if (dt === 0x12) {
          const n = varint(bytes);
          valueStart = pos;
          valueEnd = pos + n;
          pos = valueEnd;
        } else if (dt === 0x20) timestampMs = varint(bytes);
        else if (dt === 0x38) readAtMs = varint(bytes);
        else skip(bytes, dt & 7);
      }
      if (pos !== end) throw new Error("malformed Delivery");
      visit(bytes, valueStart, valueEnd, timestampMs, readAtMs);
    }
    if (pos !== batchEnd) throw new Error("malformed DeliveryBatch");
  }
  if (pos !== bytes.length) throw new Error("truncated ServerFrame");
  return kind;
}
