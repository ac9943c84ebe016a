/**
 * Shim of the `k6` module: check, group, fail, sleep. See load/README.md for what differs from k6.
 */
import { builtin, shim } from "./runtime.js";

type Checker<T> = ((value: T) => unknown) | boolean;

/**
 * Runs each named checker on `value`, records a pass or fail per check (and in the `checks`
 * Rate), and returns whether all passed. Tags are accepted and ignored.
 */
export function check<T>(value: T, sets: Record<string, Checker<T>>, _tags?: Record<string, string>): boolean {
  const checks = builtin("checks", "rate", "default");
  let all = true;
  for (const [name, checker] of Object.entries(sets)) {
    const ok = Boolean(typeof checker === "function" ? checker(value) : checker);
    const state = shim();
    let stats = state.checks.get(name);
    if (!stats) state.checks.set(name, (stats = { name, passes: 0, fails: 0 }));
    if (ok) stats.passes++;
    else stats.fails++;
    checks.add(ok ? 1 : 0);
    all &&= ok;
  }
  return all;
}

/** Calls fn and returns its result. The shim keeps no group hierarchy: checks are all reported at the root. */
export function group<T>(_name: string, fn: () => T): T {
  return fn();
}

/** Aborts the current iteration with an error, as k6's fail() does. */
export function fail(message?: string): never {
  throw new Error(message ?? "fail() called");
}

/**
 * k6's sleep() blocks its VU's runtime. All shim VUs share one Node event loop, so a blocking
 * sleep would stall every VU: the shim refuses it rather than measure something else. Use
 * setTimeout from k6/timers (or an async default function) instead.
 */
export function sleep(_seconds: number): never {
  throw new Error("sleep() is not supported by the Node k6 shim (it would block every VU); use setTimeout from k6/timers");
}

export default { check, group, fail, sleep };
