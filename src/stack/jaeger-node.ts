/**
 * Jaeger all-in-one for the local stack (traces in memory, OTLP in, query API out). Jaeger is not
 * on npm or apt: it is built once from the Go module proxy into the cache (several minutes the
 * first time), then reused. `go install …@version` is refused because of a replace directive in
 * Jaeger's module, hence a small tools module and `go build`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { weirCacheDir } from "./kafka-jars.js";
import { commandExists, livePid, spawnDetached, stopPid, waitHealthy, type StopResult } from "./process.js";

export const JAEGER_VERSION = "v1.76.0";
const NEEDLE = "jaeger";

export function jaegerBinary(cacheDir = weirCacheDir()): string {
  return join(cacheDir, `jaeger-${JAEGER_VERSION}`, "jaeger");
}

/** Builds the jaeger binary into the cache unless it is there. */
export function ensureJaegerBinary(opts: { cacheDir?: string; log?: (line: string) => void } = {}): string {
  const binary = jaegerBinary(opts.cacheDir);
  if (existsSync(binary)) return binary;
  if (!commandExists("go")) throw new Error("building Jaeger needs Go (https://go.dev/dl/): it is not on npm or apt");
  const dir = join(binary, "..", "build");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "go.mod"), "module weir.local/jaeger-tools\n\ngo 1.24\n");
  opts.log?.(`building Jaeger ${JAEGER_VERSION} from the Go module proxy (once; several minutes)…`);
  const run = (args: string[]) => {
    const r = spawnSync("go", args, { cwd: dir, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, GOFLAGS: "-mod=mod" } });
    if (r.status !== 0) throw new Error(`go ${args.join(" ")} failed (${r.status})`);
  };
  run(["get", "-tool", `github.com/jaegertracing/jaeger/cmd/jaeger@${JAEGER_VERSION}`]);
  run(["build", "-o", binary, "github.com/jaegertracing/jaeger/cmd/jaeger"]);
  return binary;
}

export type JaegerPorts = { otlpHttp: number; query: number; queryGrpc: number };

/**
 * Jaeger v2 is an OpenTelemetry Collector distribution configured by a file: OTLP/HTTP in, traces
 * in memory, the query service out; every endpoint on loopback and explicit, and the collector's
 * own telemetry off (it would take port 8888).
 */
function jaegerConfig(ports: JaegerPorts): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${ports.otlpHttp}
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${ports.query}
    grpc:
      endpoint: 127.0.0.1:${ports.queryGrpc}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

export function jaegerPaths(dir: string) {
  return { dir, pidFile: join(dir, "jaeger.pid"), log: join(dir, "jaeger.log") };
}

export function jaegerPid(dir: string): number | undefined {
  return livePid(jaegerPaths(dir).pidFile, NEEDLE);
}

/** Starts jaeger all-in-one on loopback (every port explicit, so stacks never collide). */
export async function startJaegerNode(opts: { dir: string; ports: JaegerPorts; binary: string; startTimeoutMs?: number }): Promise<{ pid: number }> {
  const p = jaegerPaths(opts.dir);
  let pid = jaegerPid(opts.dir);
  if (pid === undefined) {
    mkdirSync(opts.dir, { recursive: true });
    const config = join(opts.dir, "jaeger.yaml");
    writeFileSync(config, jaegerConfig(opts.ports));
    pid = spawnDetached({
      cmd: opts.binary,
      args: [`--config=file:${config}`],
      cwd: opts.dir,
      logFile: p.log,
      pidFile: p.pidFile,
    });
  }
  const started = pid;
  await waitHealthy({
    name: "jaeger",
    pid: started,
    logFiles: [p.log],
    timeoutMs: opts.startTimeoutMs ?? 60_000,
    check: async () => {
      try {
        return (await fetch(`http://127.0.0.1:${opts.ports.query}/api/services`)).ok;
      } catch {
        return false;
      }
    },
  });
  return { pid: started };
}

export function stopJaegerNode(dir: string, graceMs = 5000): Promise<StopResult> {
  return stopPid(jaegerPaths(dir).pidFile, NEEDLE, graceMs);
}
