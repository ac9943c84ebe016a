/** The edge relay on Deno for the bench: started exactly as `weir relay` runs it, forwarding to `upstreamUrl`. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRelayConfig } from "../../src/relay/config.js";
import { relayCommand, writeRelayBundle } from "../../src/relay/deno-command.js";
import { freePort } from "../../src/stack/free-port.js";

type RelayStats = { upstream: { unanswered: number; acked: number } };

export async function startRelayProcess(upstreamUrl: string, auth = { tenant: "bench", apiKey: "bench-key" }) {
  const dir = mkdtempSync(join(tmpdir(), "weir-bench-relay-"));
  const port = await freePort();
  const config = { listen: { host: "127.0.0.1", port }, devices: [`${auth.tenant}:${auth.apiKey}`], upstream: { urls: [upstreamUrl], ...auth }, outbox: join(dir, "outbox.log") };
  writeFileSync(join(dir, "relay.json"), JSON.stringify(config));
  const { command, args, env } = relayCommand(await writeRelayBundle(dir), join(dir, "relay.json"), parseRelayConfig(config));
  const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "inherit"] });
  const stats = async () => (await (await fetch(`http://127.0.0.1:${port}/v1/stats`)).json()) as RelayStats;
  const deadline = Date.now() + 30_000;
  while (!(await stats().then(() => true, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("relay did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `ws://127.0.0.1:${port}/v1/ingest`,
    startedAt: performance.now(),
    stats,
    async stop() {
      child.kill("SIGTERM");
      if (child.exitCode === null) await once(child, "exit");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
