/**
 * Builds a schema image of a user's own event types: their .proto files compiled with protoc
 * against Weir's built-in image (which carries `weir/v1/options.proto` for `(weir.v1.event)` and
 * protovalidate's `buf/validate/validate.proto`, so those imports resolve without a registry),
 * then merged with the built-in types, so one image holds everything a gateway accepts. The
 * result is checked like any image a gateway loads (SchemaRegistry).
 * `weir schema build --proto <dir> --out <image>` runs it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { WeirError } from "../errors.js";
import { SchemaRegistry, builtinImagePath } from "./registry.js";

export type BuildImageOptions = {
  /** The root of the user's proto files (their import paths are relative to it). */
  readonly protoDir: string;
  /** Where the image is written. */
  readonly out: string;
};

/** Builds and writes the image; returns the registry it makes (the event types a gateway would accept). */
export function buildSchemaImage(opts: BuildImageOptions): SchemaRegistry {
  const files = readdirSync(opts.protoDir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".proto"))
    .map((f) => relative(opts.protoDir, join(opts.protoDir, f)))
    .sort();
  if (files.length === 0) throw new WeirError("WEIR_ERR_SCHEMA_IMAGE", opts.protoDir, "no .proto files there");
  const work = mkdtempSync(join(tmpdir(), "weir-schema-"));
  try {
    const compiled = join(work, "user.binpb");
    try {
      execFileSync(
        "protoc",
        [`--descriptor_set_in=${builtinImagePath}`, `--proto_path=${opts.protoDir}`, "--include_imports", `--descriptor_set_out=${compiled}`, ...files],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new WeirError(
        "WEIR_ERR_SCHEMA_IMAGE",
        opts.protoDir,
        `protoc failed (it comes with Debian's protobuf-compiler): ${e.stderr?.toString() || e.message}`,
      );
    }
    const builtin = fromBinary(FileDescriptorSetSchema, readFileSync(builtinImagePath));
    const user = fromBinary(FileDescriptorSetSchema, readFileSync(compiled));
    const byName = new Map(builtin.file.map((f) => [f.name, f]));
    for (const f of user.file) if (!byName.has(f.name)) byName.set(f.name, f);
    const image = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [...byName.values()] }));
    const registry = SchemaRegistry.fromImage(image, opts.out);
    writeFileSync(opts.out, image);
    return registry;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
