/**
 * What the three runners (node-runner.ts, deno-runner.ts, browser-runner.ts) share on the host
 * side: their options, the control call (JSON in, JSON out, errors as messages) and the check
 * of the report a suite returns.
 */
import type { SuiteReport } from "./suite-types.js";

/** Answers one control call, directly or with a promise. */
export type ControlHandler = (name: string, arg: unknown) => unknown;

export type RunOptions = {
  /** Handed to the suite as env.params (JSON). The Node and Deno runners add `tmpDir`. */
  params?: Record<string, unknown>;
  /** The host functions the suite reaches through env.control(name, arg). Default: none (every call fails). */
  control?: ControlHandler;
  /** Whole run, bundling and runtime start-up included. Default 60 s. */
  timeoutMs?: number;
  /** Each line the suite logs (and, for Deno and the browser, each line the runtime prints). */
  log?: (line: string) => void;
};

export const DEFAULT_TIMEOUT_MS = 60_000;

/** What crosses the boundary in every runtime: a JSON value (undefined → null). */
export function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : JSON.parse(text);
}

export type ControlReply = { ok: true; result: unknown } | { ok: false; error: string };

/** Runs the host's control handler; never throws (the error goes back to the suite as a message). */
export async function answerControl(control: ControlHandler | undefined, name: unknown, arg: unknown): Promise<ControlReply> {
  try {
    if (typeof name !== "string") throw new Error(`control name must be a string, got ${JSON.stringify(name)}`);
    if (!control) throw new Error(`no control handler on the host (control("${name}"))`);
    return { ok: true, result: toJson(await control(name, toJson(arg))) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Checks the shape of what run() returned; throws with the offending value otherwise. */
export function checkReport(value: unknown, where: string): SuiteReport {
  const bad = (why: string): never => {
    throw new Error(`${where}: run() returned an invalid SuiteReport (${why}): ${JSON.stringify(value)?.slice(0, 500)}`);
  };
  if (typeof value !== "object" || value === null) return bad("not an object");
  const cases = (value as { cases?: unknown }).cases;
  if (!Array.isArray(cases)) return bad("no cases array");
  for (const c of cases) {
    if (typeof c !== "object" || c === null) return bad("a case is not an object");
    const { name, ok, ms, error } = c as Record<string, unknown>;
    if (typeof name !== "string" || typeof ok !== "boolean" || typeof ms !== "number") return bad(`case ${JSON.stringify(name)}: needs name, ok, ms`);
    if (error !== undefined && typeof error !== "string") return bad(`case ${name}: error must be a string`);
  }
  return value as SuiteReport;
}

/** Keeps the last `max` characters of a runtime's output for error messages. */
export class OutputTail {
  private text = "";
  constructor(private readonly max = 64 * 1024) {}
  add(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max * 2) this.text = this.text.slice(-this.max);
  }
  toString(): string {
    return this.text.length > this.max ? `…${this.text.slice(-this.max)}` : this.text;
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
