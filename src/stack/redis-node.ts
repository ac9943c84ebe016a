import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { waitPortFree } from "./free-port.js";
import { type StopResult, commandExists, livePid, spawnDetached, stopPid, waitHealthy } from "./process.js";

/** One throwaway redis-server on loopback: no persistence, its own dir, port and pid file. */
export interface RedisNodeOptions {
  dir: string;
  port: number;
  startTimeoutMs?: number;
  /**
   * Redis as production runs it: a TLS port besides the plain one, and ACL users only (the default
   * user off, so the plain port is useless without a password too). The one user may touch only
   * Weir's keys (`weir:*`) and no dangerous command (INFO aside: ioredis's ready check needs it).
   */
  secure?: RedisSecureOptions;
}

export type RedisSecureOptions = { tlsPort: number; certFile: string; keyFile: string; caFile: string; username: string; password: string };

function secureArgs(s: RedisSecureOptions): string[] {
  return [
    ...[
      "--tls-port",
      String(s.tlsPort),
      "--tls-cert-file",
      s.certFile,
      "--tls-key-file",
      s.keyFile,
      "--tls-ca-cert-file",
      s.caFile,
      "--tls-auth-clients",
      "no",
    ],
    ...["--user", "default", "off"],
    ...["--user", s.username, "on", `>${s.password}`, "resetkeys", "~weir:*", "resetchannels", "+@all", "-@dangerous", "+info"],
  ];
}

// redis-server rewrites its process title to "redis-server 127.0.0.1:<port>", so match on that.
const NEEDLE = "redis-server";

export function redisPaths(dir: string) {
  return { dir, pidFile: join(dir, "redis.pid"), log: join(dir, "redis.log") };
}

export function redisUrl(port: number): string {
  return `redis://127.0.0.1:${port}`;
}

export function redisPid(dir: string): number | undefined {
  return livePid(redisPaths(dir).pidFile, NEEDLE);
}

/** Starts redis-server (or waits for an already running one) until it answers PING. */
export async function startRedisNode(opts: RedisNodeOptions): Promise<{ pid: number }> {
  const p = redisPaths(opts.dir);
  let pid = redisPid(opts.dir);
  if (pid === undefined) {
    if (!commandExists("redis-server")) throw new Error("redis-server not found: apt-get install -y redis-server");
    await waitPortFree(opts.port, `redis (${opts.dir})`);
    mkdirSync(opts.dir, { recursive: true });
    pid = spawnDetached({
      cmd: "redis-server",
      // Foreground (--daemonize no) so the pid we spawn is the server's; detached + unref lets it outlive us.
      // Redis writes the same pid to --pidfile and removes it on clean shutdown.
      args: [
        "--bind",
        "127.0.0.1",
        "--port",
        String(opts.port),
        "--dir",
        opts.dir,
        "--pidfile",
        p.pidFile,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        "--logfile",
        "",
        ...(opts.secure ? secureArgs(opts.secure) : []),
      ],
      cwd: opts.dir,
      logFile: p.log,
      pidFile: p.pidFile,
    });
  }
  await waitHealthy({
    name: `redis on 127.0.0.1:${opts.port}`,
    pid,
    logFiles: [p.log],
    timeoutMs: opts.startTimeoutMs ?? 30_000,
    check: () => redisPing(opts.port),
    intervalMs: 50,
  });
  return { pid };
}

/** Healthy = PING answered with PONG, over a raw socket (no client library, reconnect logic or log noise). */
export function redisPing(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("*1\r\n$4\r\nPING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      // NOAUTH: a Redis with ACL users only (RedisNodeOptions.secure) is up and answering.
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG") || reply.startsWith("-NOAUTH"));
    });
  });
}

/** SIGTERM (redis shuts down at once with --save ""), SIGKILL after the timeout. No-op when nothing runs. */
export function stopRedisNode(dir: string, timeoutMs = 10_000): Promise<StopResult> {
  return stopPid(redisPaths(dir).pidFile, NEEDLE, timeoutMs);
}
