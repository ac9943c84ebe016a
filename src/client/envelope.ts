/** Building envelopes from typed payloads: the one place a client touches event encoding. */
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EnvelopeSchema, type Envelope } from "../gen/weir/v1/envelope_pb.js";

export type EnvelopeOptions = {
  /** Idempotency key; a retry must reuse it. Default: a random UUID. */
  id?: string;
  /** Event time in ms since the epoch. Default: now. */
  eventTimeMs?: number;
  partitionKey?: string;
  traceparent?: string;
  attributes?: Record<string, string>;
};

export function envelopeOf<Desc extends DescMessage>(schema: Desc, payload: MessageInitShape<Desc>, opts: EnvelopeOptions = {}): Envelope {
  return create(EnvelopeSchema, {
    id: opts.id ?? crypto.randomUUID(),
    type: schema.typeName,
    eventTime: timestampFromMs(opts.eventTimeMs ?? Date.now()),
    partitionKey: opts.partitionKey ?? "",
    traceparent: opts.traceparent ?? "",
    attributes: opts.attributes ?? {},
    payload: toBinary(schema, create(schema, payload)),
  });
}
