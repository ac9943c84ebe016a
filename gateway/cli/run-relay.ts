/**
 * `weir relay --config relay.json`: the edge relay, on Deno. The config is checked here first (a
 * clear error before anything starts); then the relay is bundled and Deno runs it in its sandbox,
 * with this process passing signals on and exiting with its code.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { homedir } from "node:os";
import { parseRelayConfig } from "../../src/relay/config.js";
import { relayCommand, writeRelayBundle } from "../../src/relay/deno-command.js";

export async function runRelay(configPath: string | undefined): Promise<number> {
  if (!configPath) {
    console.error("weir relay: --config <relay.json> is required (see README, Edge relay)");
    return 2;
  }
  const config = parseRelayConfig(JSON.parse(readFileSync(configPath, "utf8")), configPath);
  const bundle = await writeRelayBundle(join(homedir(), ".cache", "weir"));
  const { command, args, env } = relayCommand(bundle, configPath, config);
  const child = spawn(command, args, { env, stdio: "inherit" });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}
