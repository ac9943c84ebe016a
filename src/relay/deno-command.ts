/**
 * How the relay runs on Deno: the relay (./deno-main.ts) bundled into one ESM file, with the
 * built-in schema image next to it, and the sandbox it runs in — network, read of its config and
 * of its schema image, read and write of its outbox's directory, nothing else (no run, sys, ffi
 * or env permission; nothing downloaded).
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleModule } from "../build/bundle.js";
import { DENO_RUN_OFFLINE, denoBinary, denoDir } from "../build/deno.js";
import type { RelayConfig } from "./config.js";
import { builtinImagePath, SchemaRegistry } from "../schema/registry.js";

// From the sources next to this file; in the npm package (built JavaScript) from the TypeScript sources it ships for Deno.
const here = dirname(fileURLToPath(import.meta.url));
const entry = import.meta.url.endsWith(".ts") ? join(here, "deno-main.ts") : join(here, "..", "..", "deno", "src", "relay", "deno-main.ts");

/** The built-in schema image's copy beside a relay bundle (the bundle has no src/gen/ to find it in). */
export function builtinImageBeside(bundle: string): string {
  return join(dirname(bundle), "weir-relay-schema.binpb");
}

/** Writes the relay bundle, and the built-in schema image beside it, to `dir`; returns the bundle's path. */
export async function writeRelayBundle(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "weir-relay.mjs");
  writeFileSync(path, await bundleModule(entry, { platform: "deno" }));
  copyFileSync(builtinImagePath, builtinImageBeside(path));
  return path;
}

/** The relay's TLS certificate and key, which its sandbox may read. */
const tlsFiles = (config: RelayConfig) =>
  config.listen.certFile && config.listen.keyFile ? [resolve(config.listen.certFile), resolve(config.listen.keyFile)] : [];

/** The upstream token's file, which the relay reads again before each expiry. */
const tokenFiles = (config: RelayConfig) => (config.upstream.tokenFile ? [resolve(config.upstream.tokenFile)] : []);

export type DenoCommand = { readonly command: string; readonly args: string[]; readonly env: Record<string, string> };

/**
 * The command for `bundle` on `config`. Events are checked against `config.schemaImage` (relative
 * to the working directory, as the gateway's WEIR_SCHEMA_IMAGE), else the built-in image beside
 * the bundle; an image that cannot be loaded stops here (WEIR_ERR_SCHEMA_IMAGE naming the file).
 */
export function relayCommand(bundle: string, configPath: string, config: RelayConfig): DenoCommand {
  const outboxDir = dirname(resolve(config.outbox));
  mkdirSync(outboxDir, { recursive: true });
  const image = config.schemaImage ? resolve(config.schemaImage) : builtinImageBeside(resolve(bundle));
  SchemaRegistry.fromFile(image);
  return {
    command: denoBinary(),
    args: [
      ...DENO_RUN_OFFLINE,
      "--allow-net",
      `--allow-read=${[resolve(configPath), outboxDir, image, ...tlsFiles(config), ...tokenFiles(config)].join(",")}`,
      `--allow-write=${outboxDir}`,
      bundle,
      resolve(configPath),
      image,
    ],
    env: { DENO_DIR: denoDir(), DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1", PATH: process.env.PATH ?? "" },
  };
}
