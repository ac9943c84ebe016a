import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

// Shared process plumbing for the services: they run detached so they outlive the CLI that started them,
// and every later command finds them again through a pid file.

export function commandExists(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v "$1"`, "sh", cmd], { stdio: "ignore" }).status === 0;
}

/** Reads /proc/<pid>/cmdline; '' when the process is gone or /proc is unavailable. */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/**
 * A zombie (exited but not yet reaped by its parent) answers kill(0), so it is checked for separately. The main
 * thread of a killed JVM turns zombie while its other threads are still exiting and holding the listen sockets,
 * so it only counts as gone once it is the last thread left.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z") && readdirSync(`/proc/${pid}/task`).length <= 1;
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM means it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  return !isZombie(pid);
}

/**
 * Reads a pid file and returns the pid only if that process is alive and its command line contains `needle`:
 * after a reboot or a crash the pid may have been reused by an unrelated process, which we must never signal.
 */
export function livePid(pidFile: string, needle: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, "utf8").trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  const cmd = cmdline(pid);
  if (cmd !== "" && !cmd.includes(needle)) return undefined;
  return pid;
}

export interface DetachedSpawn {
  cmd: string;
  args: string[];
  cwd: string;
  logFile: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts a service in its own process group with output appended to a log file, and records its pid. */
export function spawnDetached(opts: DetachedSpawn): number {
  const fd = openSync(opts.logFile, "a");
  try {
    const child = spawn(opts.cmd, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    // spawn reports ENOENT asynchronously; without a listener it would crash the process.
    child.on("error", () => {});
    if (child.pid === undefined) throw new Error(`failed to start ${opts.cmd}`);
    child.unref();
    writeFileSync(opts.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

/** How a stop went: nothing was running, it exited on SIGTERM, or it needed SIGKILL. */
export type StopResult = "not-running" | "terminated" | "killed";

/** SIGTERM, wait for a clean exit, then SIGKILL. graceMs <= 0 goes straight to SIGKILL (crash simulation). */
export async function stopPid(pidFile: string, needle: string, graceMs: number): Promise<StopResult> {
  const pid = livePid(pidFile, needle);
  let result: StopResult = "not-running";
  if (pid !== undefined) {
    result = "terminated";
    if (graceMs > 0) signal(pid, "SIGTERM");
    if (graceMs <= 0 || !(await waitForExit(pid, graceMs))) {
      result = "killed";
      signal(pid, "SIGKILL");
      if (!(await waitForExit(pid, 10_000))) throw new Error(`process ${pid} (${needle}) did not exit after SIGKILL`);
    }
  }
  rmSync(pidFile, { force: true });
  return result;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Last lines of a log file, for error messages when a service dies during startup. */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Polls `check` until it resolves true; fails early if the process died, with the log tail. */
export async function waitHealthy(opts: {
  name: string;
  pid: number;
  logFiles: string[];
  timeoutMs: number;
  check: () => Promise<boolean>;
  intervalMs?: number;
}): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const logs = () => opts.logFiles.map((f) => `--- ${f}:\n${logTail(f)}`).join("\n");
  for (;;) {
    if (await opts.check()) return;
    if (!isAlive(opts.pid)) {
      throw new Error(`${opts.name} exited during startup (pid ${opts.pid})\n${logs()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${opts.name} not healthy after ${opts.timeoutMs} ms (pid ${opts.pid})\n${logs()}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}
