/**
 * How the relay runs on Deno: the relay (./deno-main.ts) bundled into one ESM file, and the
 * sandbox it runs in — network, read of its config, read and write of its outbox's directory,
 * nothing else (no run, sys, ffi or env permission; nothing downloaded).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleModule } from "../build/bundle.js";
import { DENO_RUN_OFFLINE, denoBinary, denoDir } from "../build/deno.js";
import type { RelayConfig } from "./config.js";

const entry = join(dirname(fileURLToPath(import.meta.url)), "deno-main.ts");

/** Writes the relay bundle to `dir` and returns its path. */
export async function writeRelayBundle(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "weir-relay.mjs");
  writeFileSync(path, await bundleModule(entry, { platform: "deno" }));
  return path;
}

export type DenoCommand = { readonly command: string; readonly args: string[]; readonly env: Record<string, string> };

export function relayCommand(bundle: string, configPath: string, config: RelayConfig): DenoCommand {
  const outboxDir = dirname(resolve(config.outbox));
  mkdirSync(outboxDir, { recursive: true });
  return {
    command: denoBinary(),
    args: [...DENO_RUN_OFFLINE, "--allow-net", `--allow-read=${resolve(configPath)},${outboxDir}`, `--allow-write=${outboxDir}`, bundle, resolve(configPath)],
    env: { DENO_DIR: denoDir(), DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1", PATH: process.env.PATH ?? "" },
  };
}
