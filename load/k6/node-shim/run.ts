/**
 * Runs a k6 script on Node with the shim modules of this directory. NOT k6: a compatibility layer
 * so CI (where k6 cannot be installed) can run the k6 scripts of load/k6. load/README.md says
 * what it covers and where it differs.
 *
 *   node --import tsx load/k6/node-shim/run.ts [run] [-e KEY=VALUE]... [--summary-json FILE] SCRIPT
 *
 * What it does, in k6's terms: evaluates the script once to read `options` (VU 0), evaluates it
 * once per VU (each VU gets its own module instance), then runs `options.scenarios`
 * (constant-vus only; or the top-level vus + duration shortcut): every VU calls the scenario's
 * function in a loop until the duration is over. An iteration ends when the function has
 * returned (or its promise settled) and nothing it started is left: open WebSockets and pending
 * k6/timers timers keep it going, as k6's event loop does. After the duration no iteration
 * starts; running ones get `gracefulStop` (default 30s) and are then interrupted. Finally it
 * evaluates `options.thresholds`, prints a k6-like summary and a JSON summary, and exits 99 if
 * a threshold failed (k6's code), 104 for options it cannot honour, 107 for a script error in
 * the init context, 108 after exec.test.abort(), 105 on SIGINT.
 */
import { register } from "node:module";
import { writeFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { Iteration, als, builtin, shim, currentStore, type MetricType, type ScenarioInfo, type ValueType, type VuInfo } from "./runtime.js";
import {
  AGGREGATIONS,
  ConfigError,
  compare,
  formatDuration,
  parseDuration,
  parseThresholds,
  textSummary,
  valuesOf,
  type Threshold,
  type ThresholdResult,
  type Values,
} from "./summary.js";

const EXIT = { thresholds: 99, config: 104, sigint: 105, script: 107, aborted: 108 } as const;

/** The subset of k6's built-in metrics the shim emits. */
const BUILTIN_METRICS: ReadonlyArray<[string, MetricType, ValueType]> = [
  ["checks", "rate", "default"],
  ["iterations", "counter", "default"],
  ["iteration_duration", "trend", "time"],
  ["ws_sessions", "counter", "default"],
  ["ws_connecting", "trend", "time"],
  ["ws_session_duration", "trend", "time"],
  ["ws_msgs_sent", "counter", "default"],
  ["ws_msgs_received", "counter", "default"],
  ["data_sent", "counter", "data"],
  ["data_received", "counter", "data"],
];

const SHIM_MODULES: Record<string, string> = {
  k6: new URL("./k6.ts", import.meta.url).href,
  "k6/metrics": new URL("./metrics.ts", import.meta.url).href,
  "k6/experimental/websockets": new URL("./websockets.ts", import.meta.url).href,
  "k6/websockets": new URL("./websockets.ts", import.meta.url).href,
  "k6/timers": new URL("./timers.ts", import.meta.url).href,
  "k6/execution": new URL("./execution.ts", import.meta.url).href,
};

// ---------------------------------------------------------------------------------------------
// Arguments

type Args = { script: string; env: Record<string, string>; summaryJson?: string };

function usage(): never {
  process.stderr.write(
    "usage: node --import tsx load/k6/node-shim/run.ts [run] [-e KEY=VALUE]... [--summary-json FILE] SCRIPT\n" +
      "Runs a k6 script with the Node k6 shim (NOT k6; see load/README.md).\n",
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const env: Record<string, string> = {};
  let script: string | undefined;
  let summaryJson: string | undefined;
  const rest = argv[0] === "run" ? argv.slice(1) : argv;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const value = (): string => {
      const eq = a.indexOf("=");
      if (a.startsWith("--") && eq > 0) return a.slice(eq + 1);
      const v = rest[++i];
      if (v === undefined) usage();
      return v;
    };
    if (a === "-e" || a === "--env" || a.startsWith("--env=")) {
      const kv = value();
      const eq = kv.indexOf("=");
      if (eq <= 0) usage();
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === "--summary-json" || a.startsWith("--summary-json=")) summaryJson = value();
    else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("-")) {
      process.stderr.write(`unknown flag ${a} (the shim takes -e/--env and --summary-json only)\n`);
      process.exit(2);
    } else if (script === undefined) script = a;
    else usage();
  }
  if (!script) usage();
  return { script, env, ...(summaryJson ? { summaryJson } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Options

type Scenario = {
  name: string;
  executor: "constant-vus";
  vus: number;
  durationMs: number;
  duration: string;
  gracefulStopMs: number;
  startTimeMs: number;
  exec: string;
  env: Record<string, string>;
};

const SUPPORTED_OPTIONS = new Set(["scenarios", "vus", "duration", "thresholds", "summaryTrendStats"]);
const SUPPORTED_SCENARIO_KEYS = new Set(["executor", "vus", "duration", "gracefulStop", "startTime", "exec", "env", "tags"]);

function scenariosOf(options: Record<string, unknown>): Scenario[] {
  for (const k of Object.keys(options)) {
    if (!SUPPORTED_OPTIONS.has(k)) shim().log("WARN", `option "${k}" is not supported by the Node k6 shim and is ignored`);
  }
  const raw = options["scenarios"] as Record<string, Record<string, unknown>> | undefined;
  const defs: Array<[string, Record<string, unknown>]> = raw
    ? Object.entries(raw)
    : [["default", { executor: "constant-vus", vus: options["vus"] ?? 1, duration: options["duration"] ?? "10s" }]];
  if (defs.length === 0) throw new ConfigError("options.scenarios is empty");
  return defs.map(([name, s]) => {
    if (s["executor"] !== "constant-vus") {
      throw new ConfigError(`scenario ${name}: executor "${String(s["executor"])}" is not supported by the Node k6 shim (only constant-vus)`);
    }
    for (const k of Object.keys(s)) {
      if (!SUPPORTED_SCENARIO_KEYS.has(k)) throw new ConfigError(`scenario ${name}: "${k}" is not supported by the Node k6 shim`);
    }
    if (s["tags"]) shim().log("WARN", `scenario ${name}: tags are ignored by the Node k6 shim`);
    const vus = Number(s["vus"] ?? 1);
    if (!Number.isInteger(vus) || vus < 1) throw new ConfigError(`scenario ${name}: vus must be a positive integer`);
    const duration = s["duration"];
    if (duration === undefined) throw new ConfigError(`scenario ${name}: duration is required`);
    // parseDuration accepts a k6 duration string or a number of ms: either is shown as given.
    const durationMs = parseDuration(duration, `scenario ${name}: duration`);
    const exec = s["exec"] ?? "default";
    if (typeof exec !== "string") throw new ConfigError(`scenario ${name}: exec must be the name of an exported function`);
    return {
      name,
      executor: "constant-vus",
      vus,
      durationMs,
      duration: typeof duration === "string" ? duration : String(durationMs),
      gracefulStopMs: parseDuration(s["gracefulStop"] ?? "30s", `scenario ${name}: gracefulStop`),
      startTimeMs: parseDuration(s["startTime"] ?? 0, `scenario ${name}: startTime`),
      exec,
      env: (s["env"] as Record<string, string> | undefined) ?? {},
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Running

type ScriptModule = Record<string, unknown> & { options?: Record<string, unknown> };

function installGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  Object.defineProperty(g, "__VU", { configurable: true, get: () => currentStore()?.vu.idInTest ?? shim().initVu?.idInTest ?? 0 });
  Object.defineProperty(g, "__ITER", {
    configurable: true,
    get: () => {
      const s = currentStore();
      return s instanceof Iteration ? s.iter : 0;
    },
  });
  const envCache = new Map<ScenarioInfo, Record<string, string>>();
  Object.defineProperty(g, "__ENV", {
    configurable: true,
    get: () => {
      const scenario = currentStore()?.vu.scenario;
      if (!scenario || Object.keys(scenario.env).length === 0) return shim().env;
      let env = envCache.get(scenario);
      if (!env) envCache.set(scenario, (env = { ...shim().env, ...scenario.env }));
      return env;
    },
  });
}

async function loadModule(scriptUrl: string, vu: VuInfo): Promise<ScriptModule> {
  const state = shim();
  state.initVu = vu;
  try {
    return (await als.run({ init: true, vu }, () => import(`${scriptUrl}?k6vu=${vu.idInTest}`))) as ScriptModule;
  } finally {
    state.initVu = undefined;
  }
}

type ScenarioRun = { scenario: Scenario; info: ScenarioInfo; completed: number; interrupted: number };

async function runScenario(sr: ScenarioRun, vus: Array<{ vu: VuInfo; fn: () => unknown }>, abortSignal: AbortSignal): Promise<void> {
  const { scenario } = sr;
  if (scenario.startTimeMs > 0) await new Promise((r) => setTimeout(r, scenario.startTimeMs));
  sr.info.startTime = Date.now();
  const endAt = performance.now() + scenario.durationMs;
  const running = new Set<Iteration>();
  const hardStop = setTimeout(() => {
    for (const it of running) it.interrupt();
  }, scenario.durationMs + scenario.gracefulStopMs);
  const onAbort = () => {
    for (const it of running) it.interrupt();
  };
  abortSignal.addEventListener("abort", onAbort);
  const iterations = builtin("iterations", "counter", "default");
  const iterationDuration = builtin("iteration_duration", "trend", "time");
  try {
    await Promise.all(
      vus.map(async ({ vu, fn }) => {
        vu.scenario = sr.info;
        while (performance.now() < endAt && !abortSignal.aborted) {
          const it = new Iteration(vu, vu.iterationInScenario);
          running.add(it);
          it.start(fn);
          await it.done;
          running.delete(it);
          vu.iterationInScenario++;
          vu.iterationInInstance++;
          if (it.interrupted) {
            sr.interrupted++;
            break;
          }
          sr.completed++;
          iterations.add(1);
          iterationDuration.add(performance.now() - it.startedAt);
        }
      }),
    );
  } finally {
    clearTimeout(hardStop);
    abortSignal.removeEventListener("abort", onAbort);
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const state = shim();
  const stamp = Date.now();
  state.log = (level, msg) => process.stderr.write(`${level}[${String(Math.floor((Date.now() - stamp) / 1000)).padStart(4, "0")}] ${msg}\n`);
  state.env = { ...(process.env as Record<string, string>), ...args.env };
  register(new URL("./hooks.mjs", import.meta.url), { data: { shimModules: SHIM_MODULES } });
  installGlobals();

  const scriptUrl = pathToFileURL(resolvePath(args.script)).href;
  let scenarios: Scenario[];
  let thresholds: Threshold[];
  let trendStats: string[];
  try {
    const first = await loadModule(scriptUrl, { idInTest: 0, iterationInScenario: 0, iterationInInstance: 0 });
    for (const unsupported of ["setup", "teardown"]) {
      if (first[unsupported] !== undefined) throw new ConfigError(`export ${unsupported}() is not supported by the Node k6 shim`);
    }
    if (first["handleSummary"] !== undefined) state.log("WARN", "export handleSummary() is ignored by the Node k6 shim");
    const options = first.options ?? {};
    scenarios = scenariosOf(options);
    thresholds = parseThresholds(options["thresholds"]);
    trendStats = (options["summaryTrendStats"] as string[] | undefined) ?? ["avg", "min", "med", "max", "p(90)", "p(95)"];
    for (const s of scenarios) {
      if (typeof first[s.exec] !== "function") throw new ConfigError(`scenario ${s.name}: the script exports no function "${s.exec}"`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      state.log("ERRO", err.message);
      return EXIT.config;
    }
    state.log("ERRO", `script error in the init context: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return EXIT.script;
  }

  // One module instance per VU, initialised before the test starts (as k6 does).
  let nextVu = 1;
  const runs: Array<{ sr: ScenarioRun; vus: Array<{ vu: VuInfo; fn: () => unknown }> }> = [];
  try {
    for (const scenario of scenarios) {
      const info: ScenarioInfo = { name: scenario.name, executor: scenario.executor, startTime: 0, env: scenario.env };
      const vus: Array<{ vu: VuInfo; fn: () => unknown }> = [];
      for (let i = 0; i < scenario.vus; i++) {
        const vu: VuInfo = { idInTest: nextVu++, iterationInScenario: 0, iterationInInstance: 0 };
        const mod = await loadModule(scriptUrl, vu);
        const fn = mod[scenario.exec] as (data?: unknown) => unknown;
        vus.push({ vu, fn: () => fn() });
      }
      runs.push({ sr: { scenario, info, completed: 0, interrupted: 0 }, vus });
    }
  } catch (err) {
    state.log("ERRO", `script error in the init context: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return EXIT.script;
  }

  // Thresholds must name metrics the script or the shim defines.
  for (const [name, type, contains] of BUILTIN_METRICS) builtin(name, type, contains);
  for (const t of thresholds) {
    const m = state.metrics.get(t.metric);
    if (!m) {
      state.log("ERRO", `threshold on "${t.metric}": no such metric (the shim's built-ins: ${BUILTIN_METRICS.map(([n]) => n).join(", ")})`);
      return EXIT.config;
    }
    if (!AGGREGATIONS[m.type].test(t.agg.percentile !== undefined ? `p(${t.agg.percentile})` : t.agg.name)) {
      state.log("ERRO", `threshold "${t.source}" on ${t.metric}: "${t.agg.name}" does not apply to a ${m.type}`);
      return EXIT.config;
    }
  }

  const abort = new AbortController();
  let exitOverride: number | undefined;
  state.abort = (reason) => {
    if (abort.signal.aborted) return;
    state.log("ERRO", `test aborted: ${reason}`);
    exitOverride = EXIT.aborted;
    abort.abort();
  };
  process.once("SIGINT", () => {
    state.log("WARN", "SIGINT: stopping the test");
    exitOverride = EXIT.sigint;
    abort.abort();
  });

  const maxVus = runs.reduce((n, r) => n + r.vus.length, 0);
  for (const r of runs) {
    state.log("INFO", `scenario ${r.sr.scenario.name}: ${r.sr.scenario.vus} looping VUs for ${formatDuration(r.sr.scenario.durationMs)}`);
  }
  const started = performance.now();
  await Promise.all(runs.map((r) => runScenario(r.sr, r.vus, abort.signal)));
  const durationMs = performance.now() - started;

  // Evaluate and report.
  const metrics = [...state.metrics.values()].filter((m) => m.count > 0 || thresholds.some((t) => t.metric === m.name));
  const values = new Map<string, Values>();
  for (const m of metrics) {
    values.set(
      m.name,
      valuesOf(
        m,
        durationMs / 1000,
        trendStats,
        thresholds.filter((t) => t.metric === m.name).map((t) => t.agg),
      ),
    );
  }
  const results: ThresholdResult[] = thresholds.map((t) => {
    const key = t.agg.percentile !== undefined ? `p(${t.agg.percentile})` : t.agg.name;
    const actual = values.get(t.metric)![key] ?? 0;
    return { ...t, actual, ok: compare(actual, t.op, t.value) };
  });
  const thresholdsOk = results.every((r) => r.ok);

  process.stdout.write(textSummary({ scenarios: runs.map((r) => r.sr), metrics, values, thresholds: results, trendStats, durationMs, maxVus }) + "\n");
  const failedOn = [...new Set(results.filter((r) => !r.ok).map((r) => r.metric))];
  if (failedOn.length) state.log("ERRO", `thresholds on metrics '${failedOn.join("', '")}' have been crossed`);

  const json = {
    tool: "weir Node k6 shim (load/k6/node-shim): not k6",
    options: { summaryTrendStats: trendStats },
    state: { testRunDurationMs: durationMs, isStdOutTTY: Boolean(process.stdout.isTTY) },
    scenarios: Object.fromEntries(
      runs.map((r) => [
        r.sr.scenario.name,
        {
          executor: r.sr.scenario.executor,
          vus: r.sr.scenario.vus,
          duration: r.sr.scenario.duration,
          exec: r.sr.scenario.exec,
          completedIterations: r.sr.completed,
          interruptedIterations: r.sr.interrupted,
        },
      ]),
    ),
    root_group: {
      name: "",
      path: "",
      groups: [],
      checks: [...state.checks.values()].map((c) => ({ name: c.name, path: `::${c.name}`, passes: c.passes, fails: c.fails })),
    },
    metrics: Object.fromEntries(
      metrics.map((m) => {
        const ts = results.filter((r) => r.metric === m.name);
        return [
          m.name,
          {
            type: m.type,
            contains: m.contains,
            values: values.get(m.name),
            ...(ts.length ? { thresholds: Object.fromEntries(ts.map((t) => [t.source, { ok: t.ok }])) } : {}),
          },
        ];
      }),
    ),
    thresholdsOk,
  };
  const text = JSON.stringify(json, null, 2);
  if (args.summaryJson) writeFileSync(args.summaryJson, text + "\n");
  else process.stdout.write(text + "\n");

  return exitOverride ?? (thresholdsOk ? 0 : EXIT.thresholds);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`ERRO the shim failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
