/** The edge relay on Deno for the bench, forwarding to `upstreamUrl`, in a temp dir of its own. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRelayProcess } from "../../src/relay/relay-process.js";
import { freePort } from "../../src/stack/free-port.js";

export async function startBenchRelay(upstreamUrl: string, auth = { tenant: "bench", apiKey: "bench-key" }) {
  const dir = mkdtempSync(join(tmpdir(), "weir-bench-relay-"));
  const config = {
    listen: { host: "127.0.0.1", port: await freePort() },
    devices: [`${auth.tenant}:${auth.apiKey}`],
    upstream: { urls: [upstreamUrl], ...auth },
    outbox: join(dir, "outbox.log"),
  };
  const relay = await startRelayProcess(config, dir, ["ignore", "ignore", "inherit"]);
  return {
    ...relay,
    startedAt: performance.now(),
    async stop() {
      await relay.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
