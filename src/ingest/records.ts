/**
 * How accepted and refused events become Kafka records. Record values are the payload bytes
 * exactly as the client encoded them (no re-encoding on the hot path); the envelope's
 * metadata travels in headers.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { DeadLetterSchema } from "../gen/weir/v1/dead_letter_pb.js";
import type { WeirError } from "../errors.js";
import type { OutRecord } from "./ports.js";
import { headers } from "../kafka-contract.js";

/** `traceparent`: the gateway's own span for a traced event (else the client's goes on as is). */
export function eventRecord(topic: string, tenant: string, env: Envelope, traceparent?: string): OutRecord {
  const h: Record<string, string> = { [headers.id]: env.id, [headers.tenant]: tenant, [headers.type]: env.type };
  const tp = traceparent ?? env.traceparent;
  if (tp) h[headers.traceparent] = tp;
  for (const key in env.attributes) h[headers.attributePrefix + key] = env.attributes[key]!;
  return { topic, key: env.partitionKey || env.id, value: env.payload, headers: h, timestampMs: timestampMs(env.eventTime!) };
}

export function deadLetterRecord(topic: string, tenant: string, env: Envelope, error: WeirError, gatewayId: string, receivedMs: number): OutRecord {
  // An event refused for its size keeps only what identifies it, clipped (not its payload or
  // attributes, which may be what made it large): the dead letter must stay a small record.
  const event = error.code === "WEIR_ERR_EVENT_TOO_LARGE" ? identityOf(env) : env;
  const value = toBinary(
    DeadLetterSchema,
    create(DeadLetterSchema, {
      event,
      tenant,
      errorCode: error.code,
      reason: error.message,
      receivedAt: timestampFromMs(receivedMs),
      gatewayId,
    }),
  );
  const id = env.id.slice(0, MAX_NAME_CHARS);
  return { topic, key: id, value, headers: { [headers.id]: id, [headers.tenant]: tenant, [headers.errorCode]: error.code } };
}

/** The most a dead letter keeps of each name of an oversized event. */
const MAX_NAME_CHARS = 256;

function identityOf(env: Envelope): Envelope {
  const clip = (s: string) => s.slice(0, MAX_NAME_CHARS);
  return {
    ...env,
    id: clip(env.id),
    tenant: clip(env.tenant),
    type: clip(env.type),
    partitionKey: clip(env.partitionKey),
    traceparent: clip(env.traceparent),
    payload: new Uint8Array(0),
    attributes: {},
  };
}
