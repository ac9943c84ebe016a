/**
 * Refuses an image that would break what the running gateway already accepts.
 * Two checks: buf's own WIRE rules between the two images (field numbers, types, labels),
 * and Weir's own rule that every accepted event type stays accepted on the same topic
 * (a client mid-stream must not see its events turn into UNKNOWN_TYPE).
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { WeirError } from "../errors.js";
import type { SchemaRegistry } from "./registry.js";

const run = promisify(execFile);
const require = createRequire(import.meta.url);

function bufBinary(): string {
  return join(require.resolve("@bufbuild/buf/package.json"), "..", "bin", "buf");
}

export async function breakingChanges(running: SchemaRegistry, next: SchemaRegistry): Promise<string[]> {
  const problems: string[] = [];
  for (const type of running.eventTypes()) {
    const now = next.eventType(type.name);
    if (!now) problems.push(`event type ${type.name} is no longer accepted`);
    else if (now.topic !== type.topic) problems.push(`event type ${type.name} moved from topic ${type.topic} to ${now.topic}`);
  }
  const dir = await mkdtemp(join(tmpdir(), "weir-compat-"));
  try {
    const against = join(dir, "running.binpb");
    const input = join(dir, "next.binpb");
    await writeFile(against, running.image);
    await writeFile(input, next.image);
    const config = JSON.stringify({ version: "v2", breaking: { use: ["WIRE"] } });
    await run(bufBinary(), ["breaking", input, "--against", against, "--config", config, "--exclude-path", "google", "--exclude-path", "buf"]);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const out = `${e.stdout ?? ""}${e.stderr ?? ""}`.trim();
    problems.push(...(out ? out.split("\n") : [e.message]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return problems;
}

/** Throws WEIR_ERR_SCHEMA_INCOMPATIBLE when `next` would break clients of `running`. */
export async function assertCompatible(running: SchemaRegistry, next: SchemaRegistry): Promise<void> {
  const problems = await breakingChanges(running, next);
  if (problems.length > 0) throw new WeirError("WEIR_ERR_SCHEMA_INCOMPATIBLE", next.source, problems.join("\n"));
}
