/**
 * Decides, without I/O, whether one envelope may be published: size (of the whole envelope),
 * control characters in names, tenant, envelope rules, event-time range and bounds, known type,
 * payload decodes, payload rules, then what no rule says (payload-hygiene.ts). The first failure wins; its reason names the
 * field and the rule so the dead-letter record explains itself.
 */
import { fromBinary, type Message } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createValidator, type Validator, type Violation } from "@bufbuild/protovalidate";
import { EnvelopeSchema, type Envelope } from "../gen/weir/v1/envelope_pb.js";
import { WeirError } from "../errors.js";
import type { EventType, SchemaRegistry } from "../schema/registry.js";
import { systemClock, type Clock } from "./clock.js";
import { controlCharAt, envelopeBytes } from "./envelope-bytes.js";
import { surelyValidEnvelope } from "./envelope-rules.js";
import { payloadViolation, timestampViolation } from "./payload-hygiene.js";
import { granted, type Grants } from "../protocol/grants.js";

const minEventTimeMs = Date.UTC(2000, 0, 1);

export type CheckResult = { ok: true; type: EventType } | { ok: false; error: WeirError };

function describe(violations: Violation[]): string {
  return violations.map((v) => v.toString()).join("; ");
}

export class EventChecker {
  private readonly validator: Validator;

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly maxEventBytes: number,
    private readonly maxFutureSkewMs = 3600_000,
    /** Event times are compared with its wall time. */
    private readonly clock: Pick<Clock, "wallMs"> = systemClock,
  ) {
    this.validator = createValidator({ registry: registry.files });
  }

  /**
   * `grants`: the event types the connection may publish (absent: any). `bytes`: the envelope's
   * size when the caller has it already (the batch counts it for admission).
   */
  check(envelope: Envelope, tenant: string, grants?: Grants, bytes = envelopeBytes(envelope)): CheckResult {
    if (bytes > this.maxEventBytes) return fail(new WeirError("WEIR_ERR_EVENT_TOO_LARGE", bytes, this.maxEventBytes));
    const control = controlCharField(envelope);
    if (control) return fail(new WeirError("WEIR_ERR_INVALID_ENVELOPE", `${control}: must not contain control characters [weir.no_control_chars]`));
    if (envelope.tenant !== "" && envelope.tenant !== tenant) {
      return fail(new WeirError("WEIR_ERR_TENANT_MISMATCH", envelope.tenant, tenant));
    }
    if (!surelyValidEnvelope(envelope)) {
      const envelopeResult = this.validator.validate(EnvelopeSchema, envelope);
      if (envelopeResult.kind !== "valid") return fail(new WeirError("WEIR_ERR_INVALID_ENVELOPE", envelopeResult.error.message));
    }
    const timeViolation = timestampViolation(envelope.eventTime!.seconds, envelope.eventTime!.nanos);
    if (timeViolation) return fail(new WeirError("WEIR_ERR_INVALID_ENVELOPE", `event_time: ${timeViolation} [weir.timestamp_range]`));
    const eventTimeMs = timestampMs(envelope.eventTime!);
    if (eventTimeMs <= minEventTimeMs) {
      return fail(new WeirError("WEIR_ERR_INVALID_ENVELOPE", "event_time: must be after 2000-01-01T00:00:00Z [event_time.after_2000]"));
    }
    if (eventTimeMs > this.clock.wallMs() + this.maxFutureSkewMs) {
      return fail(
        new WeirError("WEIR_ERR_INVALID_ENVELOPE", `event_time: must not be more than ${this.maxFutureSkewMs} ms in the future [event_time.not_in_future]`),
      );
    }
    // Before the type is looked up: a tenant learns nothing about types it may not publish.
    if (grants && !granted(grants.publish, envelope.type)) return fail(new WeirError("WEIR_ERR_FORBIDDEN_TYPE", tenant, envelope.type));
    const type = this.registry.eventType(envelope.type);
    if (!type) return fail(new WeirError("WEIR_ERR_UNKNOWN_TYPE", envelope.type));
    let payload: Message;
    try {
      payload = fromBinary(type.schema, envelope.payload);
    } catch (err) {
      return fail(new WeirError("WEIR_ERR_INVALID_PAYLOAD", type.name, `does not decode: ${(err as Error).message}`));
    }
    const payloadResult = this.validator.validate(type.schema, payload);
    if (payloadResult.kind === "invalid") {
      return fail(new WeirError("WEIR_ERR_INVALID_PAYLOAD", type.name, describe(payloadResult.violations)));
    }
    if (payloadResult.kind === "error") {
      return fail(new WeirError("WEIR_ERR_INVALID_PAYLOAD", type.name, payloadResult.error.message));
    }
    const violation = payloadViolation(type.schema, payload);
    if (violation) return fail(new WeirError("WEIR_ERR_INVALID_PAYLOAD", type.name, violation));
    return { ok: true, type };
  }
}

/** The first envelope field naming something (id, tenant, type, key, attribute) with a control character. */
function controlCharField(env: Envelope): string | undefined {
  if (controlCharAt(env.id) >= 0) return "id";
  if (controlCharAt(env.tenant) >= 0) return "tenant";
  if (controlCharAt(env.type) >= 0) return "type";
  if (controlCharAt(env.partitionKey) >= 0) return "partition_key";
  if (controlCharAt(env.traceparent) >= 0) return "traceparent";
  for (const key in env.attributes) if (controlCharAt(key) >= 0) return "attributes (a name)";
  return undefined;
}

function fail(error: WeirError): CheckResult {
  return { ok: false, error };
}
