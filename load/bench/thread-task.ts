/**
 * The benchmark's worker threads answer their parent's messages with async work, but an event
 * listener's returned promise is ignored. `threadTask` wraps such a listener: a failure is thrown
 * again, outside the promise, as the thread's uncaught exception, so the parent's Worker "error"
 * listener gets it and the benchmark stops with that error instead of waiting for a report.
 */
export function threadTask<A extends unknown[]>(task: (...args: A) => Promise<void>): (...args: A) => void {
  return (...args) => {
    task(...args).catch((err: unknown) => {
      setImmediate(() => {
        throw err;
      });
    });
  };
}
