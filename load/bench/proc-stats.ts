/**
 * CPU time and RSS of another process and the processes it started (a gateway's ingest group),
 * from /proc (Linux).
 */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

/** `pid` and its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const children = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, "utf8").trim();
      if (children) out.push(...children.split(/\s+/).map(Number));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const sumOver = (pid: number, read: (pid: number) => number) =>
  processTree(pid).reduce((sum, p) => {
    try {
      return sum + read(p);
    } catch {
      return sum;
    }
  }, 0);

/** User + system CPU seconds consumed so far by `pid` and its descendants. */
export function cpuSeconds(pid: number): number {
  return sumOver(pid, (p) => {
    const stat = readFileSync(`/proc/${p}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
  });
}

/** Peak resident set size in MiB (VmHWM) of `pid` and its descendants, summed. */
export function peakRssMiB(pid: number): number {
  return sumOver(pid, (p) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) / 1024);
}

export function rssMiB(pid: number): number {
  return sumOver(pid, (p) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) / 1024);
}
