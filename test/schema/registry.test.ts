import { describe, expect, it } from "vitest";
import { toBinary, create } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { WeirError } from "../../src/errors.js";
import { HttpAccessLogSchema } from "../../src/gen/weir/events/v1/access_log_pb.js";
import { builtinImageBytes, messageOf, mutatedImage } from "../unit-fixtures/images.js";

function schemaImageError(fn: () => unknown): WeirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WeirError);
    expect((err as WeirError).code).toBe("WEIR_ERR_SCHEMA_IMAGE");
    return err as WeirError;
  }
  throw new Error("expected WEIR_ERR_SCHEMA_IMAGE, nothing was thrown");
}

describe("SchemaRegistry", () => {
  it("lists the six built-in scenario event types with their topics and partitions", () => {
    const registry = SchemaRegistry.builtin();
    const types = registry.eventTypes().map((t) => ({ name: t.name, topic: t.topic, partitions: t.partitions }));
    expect(types).toHaveLength(6);
    expect(types).toEqual(
      expect.arrayContaining([
        { name: "weir.events.v1.HttpAccessLog", topic: "weir.events.http-access-log", partitions: 6 },
        { name: "weir.events.v1.CardTransaction", topic: "weir.events.card-transaction", partitions: 6 },
        { name: "weir.events.v1.Quote", topic: "weir.events.quote", partitions: 6 },
        { name: "weir.events.v1.Trade", topic: "weir.events.trade", partitions: 6 },
        { name: "weir.events.v1.Instrument", topic: "weir.reference.instrument", partitions: 3 },
        { name: "weir.events.v1.FxRate", topic: "weir.reference.fx-rate", partitions: 3 },
      ]),
    );
  });

  it("looks event types up by their fully qualified name, and only event types", () => {
    const registry = SchemaRegistry.builtin();
    expect(registry.eventType("weir.events.v1.HttpAccessLog")?.schema.typeName).toBe(HttpAccessLogSchema.typeName);
    // Messages without the (weir.v1.event) option are not event types.
    expect(registry.eventType("weir.events.v1.Location")).toBeUndefined();
    expect(registry.eventType("weir.v1.Envelope")).toBeUndefined();
    expect(registry.eventType("HttpAccessLog")).toBeUndefined();
  });

  it("keeps the image bytes and where they came from", () => {
    const bytes = builtinImageBytes();
    const registry = SchemaRegistry.fromImage(bytes, "mem://builtin");
    expect(registry.source).toBe("mem://builtin");
    expect(Buffer.from(registry.image).equals(Buffer.from(bytes))).toBe(true);
  });

  it("refuses an image in which no message is an event type", () => {
    const image = mutatedImage((set) => {
      set.file = set.file.filter((f) => !f.name.startsWith("weir/events/"));
    });
    const err = schemaImageError(() => SchemaRegistry.fromImage(image, "no-events.binpb"));
    expect(err.message).toContain("no-events.binpb");
    expect(err.message).toContain("(weir.v1.event)");
  });

  it("refuses an empty image", () => {
    const empty = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema));
    schemaImageError(() => SchemaRegistry.fromImage(empty, "empty.binpb"));
  });

  it("refuses bytes that are not a FileDescriptorSet", () => {
    const garbage = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const err = schemaImageError(() => SchemaRegistry.fromImage(garbage, "garbage.binpb"));
    expect(err.message).toContain("garbage.binpb");
  });

  it("refuses an image whose files import a file the image lacks", () => {
    const image = mutatedImage((set) => {
      set.file = set.file.filter((f) => f.name !== "weir/v1/options.proto");
    });
    schemaImageError(() => SchemaRegistry.fromImage(image, "missing-dep.binpb"));
  });

  it("refuses an event type whose (weir.v1.event) option has no topic", () => {
    // The option is a length-delimited field 51001 of MessageOptions; replace it by one with only partitions.
    const image = mutatedImage((set) => {
      const options = messageOf(set, "weir/events/v1/access_log.proto", "HttpAccessLog").options!;
      options.$unknown = [{ no: 51001, wireType: 2, data: new Uint8Array([0x02, 0x10, 0x06]) }];
    });
    const err = schemaImageError(() => SchemaRegistry.fromImage(image, "no-topic.binpb"));
    expect(err.message).toContain("weir.events.v1.HttpAccessLog has (weir.v1.event) without a topic");
  });

  it("refuses a schema image file that does not exist", () => {
    const err = schemaImageError(() => SchemaRegistry.fromFile("/nonexistent/weir-image.binpb"));
    expect(err.message).toContain("/nonexistent/weir-image.binpb");
  });
});
