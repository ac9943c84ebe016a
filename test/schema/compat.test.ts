import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FieldDescriptorProtoSchema, OneofDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { assertCompatible, breakingChanges } from "../../src/schema/compat.js";
import { WeirError } from "../../src/errors.js";
import { fileOf, messageOf, mutatedImage } from "../unit-fixtures/images.js";

// compat runs the buf binary; a cold start can take a few seconds.
const BUF = 30_000;

const running = SchemaRegistry.builtin();

async function incompatibility(next: SchemaRegistry): Promise<WeirError> {
  const err = await assertCompatible(running, next).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WeirError);
  expect((err as WeirError).code).toBe("WEIR_ERR_SCHEMA_INCOMPATIBLE");
  return err as WeirError;
}

describe("assertCompatible", () => {
  it(
    "accepts the built-in image against itself",
    async () => {
      const same = SchemaRegistry.builtin();
      await expect(breakingChanges(running, same)).resolves.toEqual([]);
      await expect(assertCompatible(running, same)).resolves.toBeUndefined();
    },
    BUF,
  );

  it(
    "refuses an image that no longer has an event type",
    async () => {
      const image = mutatedImage((set) => {
        const reference = fileOf(set, "weir/events/v1/reference.proto");
        reference.messageType = reference.messageType.filter((m) => m.name !== "FxRate");
      });
      const err = await incompatibility(SchemaRegistry.fromImage(image, "without-fx-rate.binpb"));
      expect(err.message).toContain("without-fx-rate.binpb");
      expect(err.message).toContain("event type weir.events.v1.FxRate is no longer accepted");
    },
    BUF,
  );

  it(
    "refuses an image that moves an event type to another topic",
    async () => {
      // (weir.v1.event) = { topic: "weir.events.quote-v2" partitions: 6 }, as MessageOptions field 51001.
      const topic = new TextEncoder().encode("weir.events.quote-v2");
      const option = new Uint8Array([2 + topic.length + 2, 0x0a, topic.length, ...topic, 0x10, 0x06]);
      const image = mutatedImage((set) => {
        const options = messageOf(set, "weir/events/v1/market.proto", "Quote").options!;
        options.$unknown = [...(options.$unknown ?? []).filter((u) => u.no !== 51001), { no: 51001, wireType: 2, data: option }];
      });
      const next = SchemaRegistry.fromImage(image, "moved-quote.binpb");
      expect(next.eventType("weir.events.v1.Quote")?.topic).toBe("weir.events.quote-v2");
      const err = await incompatibility(next);
      expect(err.message).toContain("event type weir.events.v1.Quote moved from topic weir.events.quote to weir.events.quote-v2");
    },
    BUF,
  );

  it(
    "refuses an image that changes the wire type of a field",
    async () => {
      const image = mutatedImage((set) => {
        const status = messageOf(set, "weir/events/v1/access_log.proto", "HttpAccessLog").field.find((f) => f.name === "status")!;
        status.type = FieldDescriptorProto_Type.STRING;
        status.options = undefined; // its int32 rules do not apply to a string
      });
      const next = SchemaRegistry.fromImage(image, "status-as-string.binpb");
      const err = await incompatibility(next);
      expect(err.message).toContain("status-as-string.binpb");
      // buf names the field whose type changed.
      expect(err.message).toContain('name "status" on message "HttpAccessLog" changed type from "int32" to "string"');
      // Weir's own rule has nothing to say: every type is still there, on its topic.
      expect(err.message).not.toContain("no longer accepted");
    },
    BUF,
  );

  it(
    "accepts an image that only adds a new optional field",
    async () => {
      const image = mutatedImage((set) => {
        const accessLog = messageOf(set, "weir/events/v1/access_log.proto", "HttpAccessLog");
        accessLog.oneofDecl.push(create(OneofDescriptorProtoSchema, { name: "_region" }));
        accessLog.field.push(
          create(FieldDescriptorProtoSchema, {
            name: "region",
            jsonName: "region",
            number: 9,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.STRING,
            oneofIndex: accessLog.oneofDecl.length - 1,
            proto3Optional: true,
          }),
        );
      });
      const next = SchemaRegistry.fromImage(image, "with-region.binpb");
      expect(next.eventType("weir.events.v1.HttpAccessLog")?.schema.fields.map((f) => f.name)).toContain("region");
      await expect(breakingChanges(running, next)).resolves.toEqual([]);
      await expect(assertCompatible(running, next)).resolves.toBeUndefined();
    },
    BUF,
  );
});
