/**
 * A throwaway Jaeger (all-in-one, in memory) for one test or a local run: free ports, a temp dir,
 * stopped and removed by close(). The binary is built once into the cache (jaeger-node.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./free-port.js";
import { ensureJaegerBinary, jaegerPid, startJaegerNode, stopJaegerNode } from "./jaeger-node.js";

export type TestJaeger = {
  /** OTLP/HTTP base URL for WEIR_OTLP_ENDPOINT. */
  readonly otlpEndpoint: string;
  /** Jaeger's query API base URL (/api/services, /api/traces/<id>). */
  readonly queryUrl: string;
  close(): Promise<void>;
};

export async function startTestJaeger(opts: { log?: (line: string) => void } = {}): Promise<TestJaeger> {
  const binary = ensureJaegerBinary(opts.log ? { log: opts.log } : {});
  const dir = mkdtempSync(join(tmpdir(), "weir-jaeger-"));
  const [otlpHttp, query, queryGrpc] = (await freePorts(3)) as [number, number, number];
  const onExit = () => {
    const pid = jaegerPid(dir);
    try {
      if (pid !== undefined) process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  await startJaegerNode({ dir, binary, ports: { otlpHttp, query, queryGrpc } });
  return {
    otlpEndpoint: `http://127.0.0.1:${otlpHttp}`,
    queryUrl: `http://127.0.0.1:${query}`,
    close: async () => {
      process.removeListener("exit", onExit);
      await stopJaegerNode(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
