/**
 * Events as JSON lines, for `weir send` and `weir tail`: one event per line in the Protobuf JSON
 * form of its type (field names as in the .proto or in lowerCamelCase, 64-bit integers as
 * strings or numbers, enums by name), converted through the schema image. Envelope fields ride
 * along under the reserved key `"@weir"`, which no Protobuf JSON field can be:
 * `{"host":"web-1","status":503,"@weir":{"id":"e-1","key":"web-1","eventTime":"2026-12-07T09:00:00Z"}}`.
 */
import { create, fromJson, toBinary, toJson, fromBinary, type JsonValue } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EnvelopeSchema, type Envelope } from "../gen/weir/v1/envelope_pb.js";
import type { SchemaRegistry } from "./registry.js";

export const ENVELOPE_KEY = "@weir";

/** Envelope fields a line may set (all optional). */
export type JsonEnvelopeFields = {
  readonly id?: string;
  readonly type?: string;
  readonly key?: string;
  /** RFC 3339 text or epoch milliseconds; default: now. */
  readonly eventTime?: string | number;
  readonly traceparent?: string;
  readonly attributes?: Record<string, string>;
};

export type JsonLineDefaults = { readonly type?: string; readonly key?: string; readonly nowMs?: number };

/** A line that cannot become an event: why (the gateway is never asked). */
export class JsonEventError extends Error {}

/** One JSON line as an envelope of its type (`defaults.type` unless the line names its own). */
export function envelopeFromJsonLine(registry: SchemaRegistry, line: string, defaults: JsonLineDefaults = {}): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new JsonEventError(`not JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new JsonEventError("a line must be a JSON object");
  const { [ENVELOPE_KEY]: meta = {}, ...payload } = parsed as Record<string, unknown> & { [ENVELOPE_KEY]?: JsonEnvelopeFields };
  const typeName = meta.type ?? defaults.type;
  if (!typeName) throw new JsonEventError(`no event type: give --type or "${ENVELOPE_KEY}": {"type": …}`);
  const type = registry.eventType(typeName);
  if (!type) throw new JsonEventError(`event type ${typeName} is not in the schema image (${registry.source})`);
  let message;
  try {
    message = fromJson(type.schema, payload as JsonValue);
  } catch (err) {
    throw new JsonEventError(`not a ${typeName}: ${(err as Error).message}`);
  }
  return create(EnvelopeSchema, {
    id: meta.id ?? crypto.randomUUID(),
    type: typeName,
    eventTime: timestampFromMs(eventTimeMs(meta.eventTime, defaults.nowMs ?? Date.now())),
    partitionKey: meta.key ?? defaults.key ?? "",
    traceparent: meta.traceparent ?? "",
    attributes: meta.attributes ?? {},
    payload: toBinary(type.schema, message),
  });
}

function eventTimeMs(value: string | number | undefined, nowMs: number): number {
  if (value === undefined) return nowMs;
  const ms = typeof value === "number" ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new JsonEventError(`eventTime ${JSON.stringify(value)} is neither RFC 3339 nor epoch milliseconds`);
  return ms;
}

/** An event's payload as its type's Protobuf JSON (a raw `events.<type>` delivery). */
export function eventToJson(registry: SchemaRegistry, typeName: string, payload: Uint8Array): JsonValue {
  const type = registry.eventType(typeName);
  if (!type) throw new JsonEventError(`event type ${typeName} is not in the schema image (${registry.source})`);
  return toJson(type.schema, fromBinary(type.schema, payload));
}

/** An envelope as a JSON line of the form `envelopeFromJsonLine` reads. */
export function envelopeToJsonLine(registry: SchemaRegistry, env: Envelope): string {
  const payload = eventToJson(registry, env.type, env.payload) as Record<string, JsonValue>;
  const meta: JsonEnvelopeFields = {
    id: env.id,
    type: env.type,
    ...(env.partitionKey ? { key: env.partitionKey } : {}),
    ...(env.eventTime ? { eventTime: timestampDate(env.eventTime).toISOString() } : {}),
  };
  return JSON.stringify({ ...payload, [ENVELOPE_KEY]: meta });
}
