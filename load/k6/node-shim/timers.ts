/**
 * Shim of `k6/timers`: setTimeout, clearTimeout, setInterval, clearInterval. As in k6, a pending
 * timer keeps its iteration alive, and callbacks run as code of that iteration.
 */
import { requireIteration, type Handle, type Iteration } from "./runtime.js";

type Entry = { it: Iteration; handle: Handle; timer: NodeJS.Timeout; interval: boolean };

const timers = new Map<number, Entry>();
let nextId = 1;

function schedule(api: string, interval: boolean, fn: (...args: unknown[]) => unknown, ms: number | undefined, args: unknown[]): number {
  const it = requireIteration(api);
  if (typeof fn !== "function") throw new TypeError(`${api}: callback is not a function`);
  const id = nextId++;
  const delay = Math.max(0, Number(ms) || 0);
  const handle: Handle = {
    abort() {
      const e = timers.get(id);
      if (e) (interval ? clearInterval : clearTimeout)(e.timer);
      timers.delete(id);
    },
  };
  const fire = () => {
    if (!interval) timers.delete(id);
    it.run(() => fn(...args));
    // Released after the callback, so work it schedules keeps the iteration alive.
    if (!interval) it.release(handle);
  };
  const timer = interval ? setInterval(fire, delay) : setTimeout(fire, delay);
  timers.set(id, { it, handle, timer, interval });
  it.hold(handle);
  return id;
}

function cancel(id: unknown): void {
  const e = timers.get(Number(id));
  if (!e) return;
  e.handle.abort();
  e.it.release(e.handle);
}

const k6SetTimeout = (fn: (...args: unknown[]) => unknown, ms?: number, ...args: unknown[]) => schedule("setTimeout", false, fn, ms, args);
const k6SetInterval = (fn: (...args: unknown[]) => unknown, ms?: number, ...args: unknown[]) => schedule("setInterval", true, fn, ms, args);

export { k6SetTimeout as setTimeout, cancel as clearTimeout, k6SetInterval as setInterval, cancel as clearInterval };
export default { setTimeout: k6SetTimeout, clearTimeout: cancel, setInterval: k6SetInterval, clearInterval: cancel };
