/**
 * The contract between a portable test suite and the runtime harness (node-runner.ts,
 * deno-runner.ts, browser-runner.ts). A suite module is a TS/ESM file that runs unchanged on
 * Node, in Deno and in a browser, so it must not import Node builtins statically (load them with
 * a dynamic `import("node:…")` only when `env.runtime` is "node" or "deno").
 *
 *   export async function run(env: SuiteEnv): Promise<SuiteReport>
 *
 * Each case reports ok/error itself; a throw out of run() fails the whole run (the runner
 * rejects). Everything crossing the runtime boundary (params, control args and results, the
 * report and its `data`) is JSON: undefined turns into null or disappears, Uint8Array is not
 * preserved (send base64 or number arrays).
 */

export type SuiteRuntime = "node" | "deno" | "browser";

export type SuiteEnv = {
  /** From the host, JSON. Deno and Node runs get `tmpDir`: a directory the suite may read and write. */
  readonly params: Record<string, unknown>;
  /** Calls the host function `name` with `arg` and returns its (JSON) result; rejects with its error. */
  control(name: string, arg?: unknown): Promise<unknown>;
  /** A line for the host's log (and for the runner's error when the run fails). */
  log(line: string): void;
  readonly runtime: SuiteRuntime;
};

export type SuiteCase = { name: string; ok: boolean; error?: string; ms: number; data?: unknown };

export type SuiteReport = { cases: SuiteCase[] };

export type SuiteModule = { run(env: SuiteEnv): Promise<SuiteReport> };
