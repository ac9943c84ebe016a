/**
 * Schema build: proto/ → buf image → lint, breaking check, TypeScript codegen.
 *
 * Why protoc first: our protos import buf/validate/validate.proto, whose source is neither
 * vendored (third-party) nor reachable (no Buf Schema Registry here). @bufbuild/protovalidate
 * embeds its descriptor, so we write that out as a descriptor set, let protoc compile our
 * files against it, and hand buf the resulting image. See docs/decisions/0002-schema-build.md.
 *
 *   npm run gen             regenerate src/gen/ and the default image
 *   npm run gen -- --check  fail if src/gen/ differs from what the protos produce (CI)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { create, toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const root = join(import.meta.dirname, "..");
const protoDir = join(root, "proto");
const genDir = join(root, "src", "gen");
const baseline = join(protoDir, "baseline", "weir-v1.binpb");
const check = process.argv.includes("--check");
const updateBaseline = process.argv.includes("--update-baseline");
// Third-party files inside the image: never linted, generated or checked for breaking changes.
const thirdParty = ["--exclude-path", "buf", "--exclude-path", "google"];

function run(cmd: string, args: string[], cwd = root): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}` },
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Files in dependency order, so protoc sees each import before its importer. */
function withDependencies(file: DescFile, seen = new Set<string>(), out: DescFile[] = []): DescFile[] {
  if (seen.has(file.name)) return out;
  seen.add(file.name);
  for (const dep of file.dependencies) withDependencies(dep, seen, out);
  out.push(file);
  return out;
}

function protoFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".proto"))
    .map((f) => relative(protoDir, join(dir, f)))
    .sort();
}

const work = mkdtempSync(join(tmpdir(), "weir-gen-"));
try {
  const deps = join(work, "deps.binpb");
  const depSet = create(FileDescriptorSetSchema, {
    file: withDependencies(file_buf_validate_validate).map((f) => f.proto),
  });
  writeFileSync(deps, toBinary(FileDescriptorSetSchema, depSet));

  const files = protoFiles(join(protoDir, "weir"));
  const compile = (out: string, sourceInfo: boolean) =>
    run("protoc", [
      `--descriptor_set_in=${deps}`,
      `--proto_path=${protoDir}`,
      "--include_imports",
      ...(sourceInfo ? ["--include_source_info"] : []),
      `--descriptor_set_out=${out}`,
      ...files,
    ]);
  // With source info for codegen (doc comments) and lint; without for the runtime image.
  const fullImage = join(work, "weir.full.binpb");
  const runtimeImage = join(work, "weir.binpb");
  compile(fullImage, true);
  compile(runtimeImage, false);

  const bufConfig = join(protoDir, "buf.yaml");
  run("buf", ["lint", fullImage, "--config", bufConfig, ...thirdParty]);
  if (updateBaseline) {
    mkdirSync(join(protoDir, "baseline"), { recursive: true });
    writeFileSync(baseline, readFileSync(runtimeImage));
    console.log(`baseline updated: ${relative(root, baseline)}`);
  }
  if (existsSync(baseline)) {
    run("buf", ["breaking", fullImage, "--against", baseline, "--config", bufConfig, ...thirdParty]);
  } else {
    throw new Error(`no released-schema baseline at ${baseline}; run npm run gen -- --update-baseline once`);
  }

  const outDir = check ? join(work, "src", "gen") : genDir;
  if (!check) rmSync(genDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  run("buf", ["generate", fullImage, "--template", join(root, "buf.gen.yaml"), "-o", check ? work : root, ...thirdParty]);
  writeFileSync(join(outDir, "weir.binpb"), readFileSync(runtimeImage));

  if (check) {
    const diff = (() => {
      try {
        run("diff", ["-r", genDir, outDir]);
        return "";
      } catch (err) {
        return (err as Error).message;
      }
    })();
    if (diff) throw new Error(`src/gen is stale: run npm run gen and commit.\n${diff.slice(0, 4000)}`);
    console.log("gen: src/gen is up to date; buf lint and buf breaking passed");
  } else {
    console.log(`gen: wrote ${relative(root, genDir)} (${files.length} proto files); buf lint and buf breaking passed`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
