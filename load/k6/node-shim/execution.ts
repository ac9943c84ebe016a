/**
 * Shim of `k6/execution`, reduced to: vu.idInTest, vu.idInInstance, vu.iterationInScenario,
 * vu.iterationInInstance, scenario.name, scenario.executor, scenario.startTime,
 * test.abort(reason). Reading anything else throws, so a script never
 * gets a silent `undefined` where k6 would give a value.
 */
import { TEST_ABORT, currentIteration, currentVu, shim } from "./runtime.js";

function strict<T extends object>(what: string, target: T): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (typeof prop === "symbol" || prop in t) return Reflect.get(t, prop, receiver);
      throw new Error(`k6/execution: ${what}.${prop} is not implemented by the Node k6 shim`);
    },
  });
}

function vuOrThrow() {
  const vu = currentVu();
  if (!vu) throw new Error("k6/execution: no VU is running");
  return vu;
}

function scenarioOrThrow() {
  const s = currentIteration()?.vu.scenario;
  if (!s) throw new Error("k6/execution: scenario information is only available in VU code");
  return s;
}

const vu = strict("vu", {
  get idInTest() {
    return vuOrThrow().idInTest;
  },
  get idInInstance() {
    return vuOrThrow().idInTest;
  },
  get iterationInScenario() {
    return currentIteration()?.iter ?? 0;
  },
  get iterationInInstance() {
    return currentIteration()?.vu.iterationInInstance ?? 0;
  },
});

const scenario = strict("scenario", {
  get name() {
    return scenarioOrThrow().name;
  },
  get executor() {
    return scenarioOrThrow().executor;
  },
  get startTime() {
    return scenarioOrThrow().startTime;
  },
});

const test = strict("test", {
  abort(reason?: string): never {
    const abort = shim().abort;
    const msg = reason ?? "test aborted";
    abort?.(msg);
    const err = new Error(`test aborted: ${msg}`);
    err.name = TEST_ABORT;
    throw err;
  },
});

const exec = strict("exec", { vu, scenario, test });

export { vu, scenario, test };
export default exec;
