/**
 * Shared state of the Node k6 shim: which VU and iteration the running code belongs to, the
 * iteration's "event loop" (the sockets and timers that keep it alive, as in k6), and the
 * metric and check registries the runner summarises.
 *
 * k6 gives every VU its own JavaScript runtime. Here all VUs share one Node process: each VU
 * gets its own instance of the script module (run.ts imports it with a per-VU query and the
 * loader hook carries it to relative imports), and an AsyncLocalStorage tells the shim modules
 * (and the __VU / __ITER / __ENV globals) which VU and iteration is running.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export type MetricType = "counter" | "gauge" | "rate" | "trend";
export type ValueType = "default" | "time" | "data";

export class Metric {
  /** Trend samples (kept for percentiles, as k6 does). */
  readonly samples: number[] = [];
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  last = 0;
  /** Rate: samples that were non-zero. */
  nonZero = 0;

  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly contains: ValueType,
  ) {}

  add(value: number): void {
    if (typeof value !== "number" || Number.isNaN(value)) value = Number(value);
    if (Number.isNaN(value)) throw new TypeError(`${this.name}: cannot add ${String(value)}`);
    this.count++;
    this.sum += value;
    this.last = value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value !== 0) this.nonZero++;
    if (this.type === "trend") this.samples.push(value);
  }
}

export type CheckStats = { name: string; passes: number; fails: number };

export type ScenarioInfo = {
  name: string;
  executor: string;
  /** ms since the epoch (k6/execution scenario.startTime) */
  startTime: number;
  env: Record<string, string>;
};

export type VuInfo = {
  idInTest: number;
  scenario?: ScenarioInfo;
  iterationInScenario: number;
  iterationInInstance: number;
};

/** Error name of the exception exec.test.abort() throws to end the running code. */
export const TEST_ABORT = "K6ShimTestAbort";

/** Something that keeps an iteration alive; aborted when the iteration is interrupted. */
export type Handle = { abort(): void };

export type Logger = (level: "INFO" | "WARN" | "ERRO", msg: string) => void;

/** One call of the VU function plus everything it left running (sockets, timers). */
export class Iteration {
  readonly startedAt = performance.now();
  private readonly handles = new Set<Handle>();
  private returned = false;
  private finished = false;
  error: unknown;
  interrupted = false;
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    readonly vu: VuInfo,
    readonly iter: number,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get active(): boolean {
    return !this.finished;
  }

  /** Runs code of this iteration (the VU function, an event handler, a timer callback). */
  run(fn: () => unknown): void {
    if (this.finished) return;
    let result: unknown;
    try {
      result = als.run(this, fn);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      const h: Handle = { abort() {} };
      this.hold(h);
      (result as PromiseLike<unknown>).then(
        () => this.release(h),
        (err: unknown) => this.fail(err),
      );
    }
  }

  start(fn: () => unknown): void {
    this.run(fn);
    this.returned = true;
    this.check();
  }

  hold(h: Handle): void {
    if (!this.finished) this.handles.add(h);
  }

  release(h: Handle): void {
    if (this.handles.delete(h)) this.check();
  }

  /** An uncaught exception ends the iteration (k6 logs it and starts the next one). */
  fail(err: unknown): void {
    if (this.finished) return;
    this.error = err;
    if (err instanceof Error && err.name === TEST_ABORT) {
      this.interrupt(); // exec.test.abort(): already logged, the runner stops the test
      return;
    }
    const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
    shim().log("ERRO", `Uncaught exception in VU ${this.vu.idInTest}, iteration ${this.iter}: ${msg}`);
    this.abortHandles();
    this.finish();
  }

  /** Ends the iteration now (graceful stop expired, or test aborted): sockets and timers go. */
  interrupt(): void {
    if (this.finished) return;
    this.interrupted = true;
    this.abortHandles();
    this.finish();
  }

  private abortHandles(): void {
    const hs = [...this.handles];
    this.handles.clear();
    for (const h of hs) {
      try {
        h.abort();
      } catch {
        /* closing anyway */
      }
    }
  }

  private check(): void {
    if (!this.returned || this.finished || this.handles.size > 0) return;
    // Let microtasks and handlers that registered new work in this turn run first.
    setImmediate(() => {
      if (!this.finished && this.handles.size === 0) this.finish();
    });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveDone();
  }
}

/** The init context of a VU: while its copy of the script module is evaluated. */
export type InitContext = { init: true; vu: VuInfo };

export type Store = Iteration | InitContext;

export const als = new AsyncLocalStorage<Store>();

type ShimState = {
  metrics: Map<string, Metric>;
  checks: Map<string, CheckStats>;
  env: Record<string, string>;
  /** VU whose init context is being evaluated when no AsyncLocalStorage store is visible. */
  initVu: VuInfo | undefined;
  log: Logger;
  /** Set by exec.test.abort(). */
  abort: ((reason: string) => void) | undefined;
};

const KEY = Symbol.for("weir.k6-node-shim");

/** One state per process, even if a shim module were loaded twice under different URLs. */
export function shim(): ShimState {
  const g = globalThis as unknown as Record<symbol, ShimState | undefined>;
  return (g[KEY] ??= {
    metrics: new Map(),
    checks: new Map(),
    env: {},
    initVu: undefined,
    log: (level, msg) => process.stderr.write(`${level}[shim] ${msg}\n`),
    abort: undefined,
  });
}

export function currentStore(): Store | undefined {
  return als.getStore();
}

export function currentIteration(): Iteration | undefined {
  const s = als.getStore();
  return s instanceof Iteration ? s : undefined;
}

export function currentVu(): VuInfo | undefined {
  const s = als.getStore();
  return s ? s.vu : shim().initVu;
}

/** The iteration running now; the APIs that need an event loop refuse the init context, as k6 does. */
export function requireIteration(api: string): Iteration {
  const it = currentIteration();
  if (!it) throw new Error(`${api} can only be used in the VU code (the default function or handlers), not in the init context`);
  if (!it.active) throw new Error(`${api} called after the iteration ended`);
  return it;
}

export function registerMetric(name: string, type: MetricType, isTime: boolean): Metric {
  if (currentIteration()) throw new Error(`metrics must be declared in the init context (new ${type} "${name}")`);
  if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/.test(name)) throw new Error(`invalid metric name "${name}"`);
  const state = shim();
  const existing = state.metrics.get(name);
  if (existing) {
    if (existing.type !== type) throw new Error(`metric "${name}" already exists as a ${existing.type}`);
    return existing;
  }
  const m = new Metric(name, type, isTime ? "time" : "default");
  state.metrics.set(name, m);
  return m;
}

/** Built-in metrics the shim emits itself (a subset of k6's). */
export function builtin(name: string, type: MetricType, contains: ValueType): Metric {
  const state = shim();
  let m = state.metrics.get(name);
  if (!m) {
    m = new Metric(name, type, contains);
    state.metrics.set(name, m);
  }
  return m;
}
