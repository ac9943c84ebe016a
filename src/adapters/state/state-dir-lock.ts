/**
 * One processor process per state directory (decision 0026): two processes sharing one could
 * both write a task's local copy around a rebalance, each write consistent but their order not.
 * A lock file holding the owner's pid; a lock whose process is gone (or that names this very
 * process without it holding the lock: a container restarted under the same pid) is taken over.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeirError } from "../../errors.js";

/** Directories this process holds. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, another user's
  }
}

export function lockStateDir(dir: string): { release(): void } {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, ".lock");
  if (held.has(path)) throw new WeirError("WEIR_ERR_CONFIG", `WEIR_STATE_DIR ${dir} is in use by another processor of this process`);
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx" });
      held.add(path);
      return {
        release: () => {
          if (!held.delete(path)) return;
          try {
            unlinkSync(path);
          } catch {
            // gone already
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number(readFileSync(path, "utf8"));
    if (holder > 0 && holder !== process.pid && alive(holder))
      throw new WeirError("WEIR_ERR_CONFIG", `WEIR_STATE_DIR ${dir} is in use by process ${holder}: give each processor process a directory of its own`);
    unlinkSync(path); // stale: its process is gone
  }
}
