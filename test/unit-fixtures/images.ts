/**
 * Schema images for registry and compat tests: the built-in image decoded as a FileDescriptorSet,
 * changed in memory, and encoded again (options, including extensions, survive as unknown fields).
 */
import { readFileSync } from "node:fs";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type DescriptorProto, type FileDescriptorProto, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import { builtinImagePath } from "../../src/schema/registry.js";

export function builtinImageBytes(): Uint8Array {
  return new Uint8Array(readFileSync(builtinImagePath));
}

export function builtinImageSet(): FileDescriptorSet {
  return fromBinary(FileDescriptorSetSchema, builtinImageBytes());
}

/** The built-in image after `mutate` changed its descriptors. */
export function mutatedImage(mutate: (set: FileDescriptorSet) => void): Uint8Array {
  const set = builtinImageSet();
  mutate(set);
  return toBinary(FileDescriptorSetSchema, set);
}

export function fileOf(set: FileDescriptorSet, name: string): FileDescriptorProto {
  const file = set.file.find((f) => f.name === name);
  if (!file) throw new Error(`no file ${name} in the image`);
  return file;
}

export function messageOf(set: FileDescriptorSet, fileName: string, messageName: string): DescriptorProto {
  const message = fileOf(set, fileName).messageType.find((m) => m.name === messageName);
  if (!message) throw new Error(`no message ${messageName} in ${fileName}`);
  return message;
}
