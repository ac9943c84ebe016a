/**
 * What the gateway refuses in a payload beyond its protovalidate rules, because no rule says it
 * and downstream code would take it at face value:
 *   - NaN and ±Infinity in double and float fields (a sum or a VaR turns into null or Infinity),
 *     unless the field opts in with `(weir.v1.field).allow_non_finite = true`;
 *   - google.protobuf.Timestamp and Duration values outside their documented range (nanos -1 or
 *     2e9 decode fine and shift every time computed from them).
 * One walker per message type, built once from its descriptor: fields that can hold none of these
 * are never visited, and a type without any costs one array check per event.
 */
import { ScalarType, getOption, hasOption, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { field as fieldOption } from "../gen/weir/v1/options_pb.js";

/** A walker: the first violation as "<field path>: <what>", or undefined. */
type Walk = (message: Record<string, unknown>, path: string) => string | undefined;

const MIN_TIMESTAMP_SECONDS = -62_135_596_800n; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z
const MAX_DURATION_SECONDS = 315_576_000_000n; // ±10,000 years
const MAX_NANOS = 999_999_999;

const walkers = new WeakMap<DescMessage, Walk | null>();

/** The first value of `message` the gateway refuses, as "<field path>: <what>"; undefined when none. */
export function payloadViolation(schema: DescMessage, message: Message): string | undefined {
  const walk = walkerOf(schema);
  return walk ? walk(message, "") : undefined;
}

/** Checks the range of one Timestamp (the envelope's event_time, for one). */
export function timestampViolation(seconds: bigint, nanos: number): string | undefined {
  if (nanos < 0 || nanos > MAX_NANOS) return `nanos ${nanos} is outside 0..${MAX_NANOS}`;
  if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS) return `seconds ${seconds} is outside 0001-01-01..9999-12-31`;
  return undefined;
}

function durationViolation(seconds: bigint, nanos: number): string | undefined {
  if (nanos < -MAX_NANOS || nanos > MAX_NANOS) return `nanos ${nanos} is outside ±${MAX_NANOS}`;
  if (seconds < -MAX_DURATION_SECONDS || seconds > MAX_DURATION_SECONDS) return `seconds ${seconds} is outside ±10,000 years`;
  if ((seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0)) return "seconds and nanos have different signs";
  return undefined;
}

/** The walker of a message type, or null when nothing in it (however deep) needs checking. */
function walkerOf(schema: DescMessage, building = new Set<DescMessage>()): Walk | null {
  const known = walkers.get(schema);
  if (known !== undefined) return known;
  if (schema.typeName === "google.protobuf.Timestamp") return remember(schema, wellKnown(timestampViolation));
  if (schema.typeName === "google.protobuf.Duration") return remember(schema, wellKnown(durationViolation));
  // A recursive type refers to itself while being built: the reference is resolved lazily.
  if (building.has(schema)) return (m, p) => walkerOf(schema)?.(m, p);
  building.add(schema);
  const checks: Walk[] = [];
  for (const field of schema.fields) {
    const check = fieldCheck(field, building);
    if (check) checks.push(check);
  }
  building.delete(schema);
  return remember(
    schema,
    checks.length === 0
      ? null
      : (message, path) => {
          for (const check of checks) {
            const violation = check(message, path);
            if (violation) return violation;
          }
          return undefined;
        },
  );
}

function remember(schema: DescMessage, walk: Walk | null): Walk | null {
  walkers.set(schema, walk);
  return walk;
}

function wellKnown(violation: (seconds: bigint, nanos: number) => string | undefined): Walk {
  return (m, path) => {
    const why = violation(m.seconds as bigint, m.nanos as number);
    return why ? `${path}: ${why}` : undefined;
  };
}

/** The check of one field of a message, or null when its values need none. */
function fieldCheck(field: DescField, building: Set<DescMessage>): Walk | null {
  const name = field.localName;
  const at = (path: string) => (path ? `${path}.${field.name}` : field.name);
  const value = valueCheck(field, building);
  if (!value) return null;
  if (field.oneof) {
    return (m, path) => {
      const oneof = m[field.oneof!.localName] as { case?: string; value?: unknown };
      return oneof.case === name ? value(oneof.value, at(path)) : undefined;
    };
  }
  if (field.fieldKind === "list") {
    return (m, path) => {
      const list = m[name] as unknown[];
      for (let i = 0; i < list.length; i++) {
        const violation = value(list[i], `${at(path)}[${i}]`);
        if (violation) return violation;
      }
      return undefined;
    };
  }
  if (field.fieldKind === "map") {
    return (m, path) => {
      const map = m[name] as Record<string, unknown>;
      for (const key in map) {
        const violation = value(map[key], `${at(path)}["${key}"]`);
        if (violation) return violation;
      }
      return undefined;
    };
  }
  return (m, path) => (m[name] === undefined ? undefined : value(m[name], at(path)));
}

/** The check of one value of a field (an element of a list or map, or the field itself). */
function valueCheck(field: DescField, building: Set<DescMessage>): ((v: unknown, path: string) => string | undefined) | null {
  const message = field.fieldKind === "message" || field.fieldKind === "list" || field.fieldKind === "map" ? messageOf(field) : undefined;
  if (message) {
    const walk = walkerOf(message, building);
    return walk ? (v, path) => (v === undefined ? undefined : walk(v as Record<string, unknown>, path)) : null;
  }
  if (isFloating(field) && !allowsNonFinite(field)) {
    return (v, path) => (typeof v === "number" && !Number.isFinite(v) ? `${path}: ${v} is not a finite number [weir.finite]` : undefined);
  }
  return null;
}

function messageOf(field: DescField): DescMessage | undefined {
  if (field.fieldKind === "message") return field.message;
  if (field.fieldKind === "list" && field.listKind === "message") return field.message;
  if (field.fieldKind === "map" && field.mapKind === "message") return field.message;
  return undefined;
}

function isFloating(field: DescField): boolean {
  const scalar =
    field.fieldKind === "scalar"
      ? field.scalar
      : field.fieldKind === "list" && field.listKind === "scalar"
        ? field.scalar
        : field.fieldKind === "map" && field.mapKind === "scalar"
          ? field.scalar
          : undefined;
  return scalar === ScalarType.DOUBLE || scalar === ScalarType.FLOAT;
}

function allowsNonFinite(field: DescField): boolean {
  return hasOption(field, fieldOption) && getOption(field, fieldOption).allowNonFinite;
}
