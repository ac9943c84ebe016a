/**
 * Small portable helpers for writing a suite module (no Node imports: this is bundled for
 * browsers and Deno). Optional: a suite may build its SuiteReport by hand.
 *
 *   const t = cases(env);
 *   await t.case("connects", async () => { ... return { someData } });
 *   return t.report();
 */
import type { SuiteCase, SuiteEnv, SuiteReport } from "./suite-types.js";

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.stack && err.stack.includes(err.message) ? err.stack : `${err.name}: ${err.message}`;
  return typeof err === "string" ? err : (JSON.stringify(err) ?? String(err));
}

export type CaseRecorder = {
  /** Runs `fn` (sync or async) as the case `name`; a throw (or a timeout) records a failed case, never rethrows. */
  case(name: string, fn: () => unknown, opts?: { timeoutMs?: number }): Promise<SuiteCase>;
  report(): SuiteReport;
};

export function cases(env: SuiteEnv, defaults: { timeoutMs?: number } = {}): CaseRecorder {
  const done: SuiteCase[] = [];
  return {
    async case(name, fn, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? defaults.timeoutMs ?? 30_000;
      const t0 = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let c: SuiteCase;
      try {
        const data = await Promise.race([
          Promise.resolve().then(fn),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`case "${name}" timed out after ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        c = { name, ok: true, ms: Math.round(performance.now() - t0) };
        if (data !== undefined) c.data = data;
      } catch (err) {
        c = { name, ok: false, error: errorText(err), ms: Math.round(performance.now() - t0) };
      } finally {
        clearTimeout(timer);
      }
      env.log(`${c.ok ? "ok  " : "FAIL"} ${name} (${c.ms} ms)${c.ok ? "" : `: ${c.error?.split("\n")[0]}`}`);
      done.push(c);
      return c;
    },
    report: () => ({ cases: [...done] }),
  };
}

/** Throws unless `cond`; a minimal assert that needs no Node builtin. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`check failed: ${message}`);
}

/** Equality of JSON-like values by their JSON text (so object keys must come in the same order). */
export function checkEqual(actual: unknown, expected: unknown, what = "value"): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`check failed: ${what}: expected ${e}, got ${a}`);
}
