/** Runs a load job on worker threads and merges their reports. */
import { Worker } from "node:worker_threads";
import type { WorkerJob, WorkerReport } from "./generator-worker.js";
import { Samples } from "./histogram.js";

export type LoadJob = Omit<WorkerJob, "connections" | "idPrefix" | "ratePerConnection"> & {
  threads: number;
  connectionsPerThread: number;
  /** paced: total events/s across all connections. */
  rate?: number;
  idPrefix: string;
};

export type LoadResult = Omit<WorkerReport, "latencies"> & { seconds: number; latencies: Samples };

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const connections = job.threads * job.connectionsPerThread;
  const workers = Array.from({ length: job.threads }, (_, t) => {
    const data: WorkerJob = {
      ...job,
      connections: job.connectionsPerThread,
      ratePerConnection: (job.rate ?? 0) / connections,
      // Distinct, fixed-width id prefixes per thread (and per run, through job.idPrefix).
      idPrefix: `${job.idPrefix}${t.toString(36)}-`,
    };
    return new Worker(new URL("./generator-worker.mjs", import.meta.url), { workerData: data });
  });
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => w.once("message", resolve).once("error", reject))));
  const started = performance.now();
  const reports = await Promise.all(
    workers.map(
      (w) =>
        new Promise<WorkerReport>((resolve, reject) => {
          w.once("message", resolve).once("error", reject);
          w.postMessage("go");
        }),
    ),
  );
  const seconds = (Math.min(performance.now() - started, job.durationMs) - job.warmupMs) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  const latencies = new Samples();
  const sum = (k: keyof Omit<WorkerReport, "latencies">) => reports.reduce((s, r) => s + r[k], 0);
  for (const r of reports) latencies.merge(r.latencies);
  return {
    seconds,
    framesSent: sum("framesSent"),
    eventsSent: sum("eventsSent"),
    acked: sum("acked"),
    duplicate: sum("duplicate"),
    retried: sum("retried"),
    failed: sum("failed"),
    closedEarly: sum("closedEarly"),
    latencies,
  };
}
