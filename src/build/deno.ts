/**
 * Finding Deno: WEIR_DENO, else the binary of the `deno` npm package (a devDependency: the edge
 * relay and the client's Deno tests run on it), else `deno` on the PATH.
 */
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveToolSettings } from "../config.js";

export function denoBinary(): string {
  const configured = resolveToolSettings().deno;
  if (configured) return configured;
  try {
    const require = createRequire(import.meta.url);
    return (require("deno/install_api.cjs") as { runInstall(): string }).runInstall();
  } catch {
    return "deno";
  }
}

/** Deno's cache directory (only V8 code caches: nothing is ever downloaded). */
export function denoDir(): string {
  return resolveToolSettings().denoDir || join(tmpdir(), "weir-deno-dir");
}

/** `deno run` offline: no config or lock file, nothing fetched (remote modules, npm), no prompts. */
export const DENO_RUN_OFFLINE = ["run", "--no-config", "--no-lock", "--no-remote", "--no-npm", "--cached-only", "--no-prompt"] as const;
