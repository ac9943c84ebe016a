/**
 * The event types a gateway accepts, loaded from a buf image (a FileDescriptorSet).
 * A message is an event type when it carries the `(weir.v1.event)` option; its field rules
 * are protovalidate options in the same image. Event types are data: a user adds their own by
 * building an image of their schemas and pointing WEIR_SCHEMA_IMAGE at it.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary, getOption, hasOption, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { event as eventOption } from "../gen/weir/v1/options_pb.js";
import { WeirError } from "../errors.js";

export type EventType = {
  /** Fully qualified message name, the envelope's `type`. */
  readonly name: string;
  readonly schema: DescMessage;
  readonly topic: string;
  readonly partitions: number;
};

export const builtinImagePath = fileURLToPath(new URL("../gen/weir.binpb", import.meta.url));

export class SchemaRegistry {
  private constructor(
    /** The image bytes, kept to check the next image against this one. */
    readonly image: Uint8Array,
    /** Where the image came from, for messages. */
    readonly source: string,
    readonly files: FileRegistry,
    private readonly types: ReadonlyMap<string, EventType>,
  ) {}

  static fromImage(image: Uint8Array, source: string): SchemaRegistry {
    let files: FileRegistry;
    try {
      files = createFileRegistry(fromBinary(FileDescriptorSetSchema, image));
    } catch (err) {
      throw new WeirError("WEIR_ERR_SCHEMA_IMAGE", source, (err as Error).message);
    }
    const types = new Map<string, EventType>();
    for (const desc of files) {
      if (desc.kind !== "message" || !hasOption(desc, eventOption)) continue;
      const opts = getOption(desc, eventOption);
      if (!opts.topic) throw new WeirError("WEIR_ERR_SCHEMA_IMAGE", source, `${desc.typeName} has (weir.v1.event) without a topic`);
      types.set(desc.typeName, { name: desc.typeName, schema: desc, topic: opts.topic, partitions: opts.partitions || 1 });
    }
    if (types.size === 0) throw new WeirError("WEIR_ERR_SCHEMA_IMAGE", source, "no message has the (weir.v1.event) option");
    return new SchemaRegistry(image, source, files, types);
  }

  static fromFile(path: string): SchemaRegistry {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new WeirError("WEIR_ERR_SCHEMA_IMAGE", path, (err as Error).message);
    }
    return SchemaRegistry.fromImage(bytes, path);
  }

  /** The scenario event types that ship with Weir. */
  static builtin(): SchemaRegistry {
    return SchemaRegistry.fromFile(builtinImagePath);
  }

  eventType(name: string): EventType | undefined {
    return this.types.get(name);
  }

  eventTypes(): EventType[] {
    return [...this.types.values()];
  }
}
