/**
 * A Weir process (gateway, processor) as a child of the test, under tsx: its log lines, waiting for
 * a line, and killing it with signals. The processor and gateway tests build on it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** One stderr line of the child, with the (test process) time it arrived. */
export type LogLine = { readonly atMs: number; readonly text: string };
/** A match of waitForLog, with the index of its line in `lines` and the time the line arrived. */
export type LogMatch = RegExpMatchArray & { readonly line: number; readonly atMs: number };

export type WeirChild = {
  /** Its name in error messages. */
  readonly name: string;
  readonly process: ChildProcess;
  /** Everything the child wrote to stderr so far. */
  readonly log: string;
  /** Its complete stderr lines so far. */
  readonly lines: readonly LogLine[];
  /** Whether it has exited. */
  readonly exited: boolean;
  /**
   * Resolves with the first complete line from line index `since` on (default 0) that matches
   * `pattern`; rejects (with the log) on timeout or if the child exits first.
   */
  waitForLog(pattern: RegExp, opts?: { since?: number; timeoutMs?: number }): Promise<LogMatch>;
  /** Sends `signal` (default SIGKILL) and resolves once the child has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (a clean close), SIGKILL if it has not exited after `graceMs`; resolves once exited. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
};

/**
 * Runs `fn` of the CLI module `module` (e.g. "gateway/cli/run-gateway.ts", "runGateway") in a child
 * process under tsx, with `env` on top of this process's environment.
 */
export function startWeirChild(name: string, module: string, fn: string, env: Record<string, string>): WeirChild {
  // A tiny script file, not --eval: the engine's worker threads inherit the exec arguments.
  const dir = mkdtempSync(join(tmpdir(), "weir-child-"));
  const script = join(dir, "child.mjs");
  const entry = pathToFileURL(join(process.cwd(), module)).href;
  writeFileSync(script, `const m = await import(${JSON.stringify(entry)});\nprocess.exitCode = await m.${fn}();\n`);
  const child = startChildProcess(name, process.execPath, ["--import", "tsx", script], { ...process.env, WEIR_LOG_LEVEL: "info", ...env });
  void child.exit.then(() => rmSync(dir, { recursive: true, force: true }));
  return child;
}

/** Any command as a WeirChild (its stdout/stderr lines, pino JSON read as their messages), with exactly `env`. */
export function startChildProcess(
  name: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): WeirChild & { readonly exit: Promise<void> } {
  const child = spawn(command, args, { cwd: process.cwd(), env, stdio: ["ignore", "pipe", "pipe"] });

  let log = "";
  let partial = "";
  const lines: LogLine[] = [];
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  // Weir logs pino JSON lines on stdout; a line's text is its message (so patterns can
  // anchor at its end), anything else (stderr, non-JSON) is kept as written.
  const textOf = (line: string) => {
    try {
      const entry = JSON.parse(line) as { msg?: unknown };
      return typeof entry.msg === "string" ? entry.msg : line;
    } catch {
      return line;
    }
  };
  const onData = (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split("\n");
    partial = parts.pop()!;
    const atMs = Date.now();
    for (const p of parts) {
      const text = textOf(p);
      log += `${text}\n`;
      lines.push({ atMs, text });
    }
    if (parts.length > 0) notify();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      if (partial) lines.push({ atMs: Date.now(), text: partial });
      partial = "";
      notify();
      resolve();
    });
  });

  return {
    name,
    exit,
    process: child,
    get log() {
      return log;
    },
    get lines() {
      return lines;
    },
    get exited() {
      return exited;
    },
    waitForLog(pattern, { since = 0, timeoutMs = 120_000 } = {}) {
      return new Promise((resolve, reject) => {
        let next = since;
        const check = () => {
          for (; next < lines.length; next++) {
            const m = lines[next]!.text.match(pattern);
            if (m) return done(() => resolve(Object.assign(m, { line: next, atMs: lines[next]!.atMs })));
          }
          if (exited)
            done(() => reject(new Error(`${name} exited (code ${child.exitCode}, signal ${child.signalCode}) before logging ${pattern}; its log:\n${log}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${name} to log ${pattern}; its log:\n${log}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async kill(signal = "SIGKILL") {
      if (!exited) child.kill(signal);
      await exit;
    },
    async stop(graceMs = 30_000) {
      if (exited) return;
      child.kill("SIGCONT"); // in case a test stopped it
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
