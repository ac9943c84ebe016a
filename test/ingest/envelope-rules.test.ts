import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { create, getOption } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createValidator } from "@bufbuild/protovalidate";
import { field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { EnvelopeSchema } from "../../src/gen/weir/v1/envelope_pb.js";
import { ENVELOPE_RULES, surelyValidEnvelope } from "../../src/ingest/envelope-rules.js";
import { FUZZ_RUNS, FUZZ_SEED } from "../fuzz/settings.js";

const validator = createValidator();

/** The string rules envelope.proto sets on a field, as numbers (absent: undefined). */
function stringRules(name: keyof typeof EnvelopeSchema.field): { minLen?: number; maxLen?: number } {
  const rules = getOption(EnvelopeSchema.field[name], fieldRules);
  if (rules.type.case !== "string") throw new Error(`${name} has no string rules`);
  // An unset bound reads as 0 (no minimum; a maximum of 0 would refuse every string and is not used).
  const { minLen, maxLen } = rules.type.value;
  return { ...(minLen ? { minLen: Number(minLen) } : {}), ...(maxLen ? { maxLen: Number(maxLen) } : {}) };
}

describe("surelyValidEnvelope", () => {
  it("encodes exactly the rules envelope.proto states (a changed rule must change the fast check too)", () => {
    expect(stringRules("id")).toEqual(ENVELOPE_RULES.id);
    expect(stringRules("tenant")).toEqual(ENVELOPE_RULES.tenant);
    expect(stringRules("type")).toEqual(ENVELOPE_RULES.type);
    expect(stringRules("partitionKey")).toEqual(ENVELOPE_RULES.partitionKey);
    expect(stringRules("traceparent")).toEqual(ENVELOPE_RULES.traceparent);
    expect(getOption(EnvelopeSchema.field.eventTime, fieldRules).required).toBe(true);
    const map = getOption(EnvelopeSchema.field.attributes, fieldRules);
    if (map.type.case !== "map") throw new Error("attributes has no map rules");
    expect(Number(map.type.value.maxPairs)).toBe(ENVELOPE_RULES.attributes.maxPairs);
    const keys = map.type.value.keys?.type;
    if (keys?.case !== "string") throw new Error("attribute keys have no string rules");
    expect({ minLen: Number(keys.value.minLen), maxLen: Number(keys.value.maxLen) }).toEqual(ENVELOPE_RULES.attributes.key);
    // No other field carries rules the fast check would have to know.
    const ruled = EnvelopeSchema.fields.filter((f) => getOption(f, fieldRules).type.case !== undefined || getOption(f, fieldRules).required);
    expect(ruled.map((f) => f.localName).sort()).toEqual(["attributes", "eventTime", "id", "partitionKey", "tenant", "traceparent", "type"]);
  });

  // Strings around every bound, with characters that are two UTF-16 units (one code point) and lone surrogates.
  const unit = fc.constantFrom("a", "é", "👍", "\ud800", "\udc00", "-");
  const around = (n: number) => fc.array(unit, { minLength: Math.max(0, n - 3), maxLength: n + 3 }).map((cs) => cs.join(""));
  const maybe = (n: number) => fc.oneof({ weight: 2, arbitrary: around(n) }, { weight: 6, arbitrary: around(2) }, fc.constant(""));

  it("never passes an envelope protovalidate refuses, and passes the usual ones", () => {
    let passed = 0;
    fc.assert(
      fc.property(
        fc.record({
          id: maybe(128),
          tenant: maybe(64),
          type: maybe(256),
          partitionKey: maybe(256),
          traceparent: maybe(55),
          attributes: fc.dictionary(maybe(128), fc.string({ maxLength: 4 }), { maxKeys: 18, size: "small" }),
          eventTime: fc.option(fc.constant(timestampFromMs(1_700_000_000_000))),
        }),
        ({ eventTime, ...fields }) => {
          const env = create(EnvelopeSchema, { ...fields, ...(eventTime ? { eventTime } : {}) });
          if (!surelyValidEnvelope(env)) return;
          passed++;
          expect(validator.validate(EnvelopeSchema, env).kind).toBe("valid");
        },
      ),
      { numRuns: Math.max(2000, FUZZ_RUNS), seed: FUZZ_SEED },
    );
    expect(passed).toBeGreaterThan(50);
  });
});
