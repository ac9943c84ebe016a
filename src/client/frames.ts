/**
 * A PublishBatch frame built from envelopes that are already encoded (the outbox keeps every
 * event as its Envelope bytes): concatenating them under the two length-delimited headers is
 * exactly protobuf's encoding of ClientFrame{publish: PublishBatch{seq, events}}, without
 * decoding and re-encoding each event. test/client/weir-client.test.ts checks it against protobuf-es.
 */

const PUBLISH_BATCH_SEQ = (1 << 3) | 0; // PublishBatch.seq = 1, varint
const PUBLISH_BATCH_EVENT = (2 << 3) | 2; // PublishBatch.events = 2, length-delimited
const CLIENT_FRAME_PUBLISH = (2 << 3) | 2; // ClientFrame.publish = 2, length-delimited

function varintSize(n: number | bigint): number {
  let v = BigInt(n);
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, pos: number, n: number | bigint): number {
  let v = BigInt(n);
  while (v >= 0x80n) {
    out[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  out[pos++] = Number(v);
  return pos;
}

/** The encoded size of one event inside a batch (for keeping frames under max_frame_bytes). */
export function eventFrameBytes(envelope: Uint8Array): number {
  return 1 + varintSize(envelope.byteLength) + envelope.byteLength;
}

export function encodePublishFrame(seq: bigint, envelopes: readonly Uint8Array[]): Uint8Array {
  let body = 1 + varintSize(seq);
  for (const e of envelopes) body += eventFrameBytes(e);
  const out = new Uint8Array(1 + varintSize(body) + body);
  let pos = 0;
  out[pos++] = CLIENT_FRAME_PUBLISH;
  pos = writeVarint(out, pos, body);
  out[pos++] = PUBLISH_BATCH_SEQ;
  pos = writeVarint(out, pos, seq);
  for (const e of envelopes) {
    out[pos++] = PUBLISH_BATCH_EVENT;
    pos = writeVarint(out, pos, e.byteLength);
    out.set(e, pos);
    pos += e.byteLength;
  }
  return out;
}
