/**
 * The FileOutbox's single-writer lock on `<path>.lock`, in the variant of the runtime.
 *
 * Node: the lock file is created exclusively and holds the owner's pid. A lock whose pid is not
 * alive (or is this process's own pid but not held by this process: a container restart often
 * reuses the pid) is taken over; a lock file without a pid is another opener between its create
 * and its write while it is young, stale once older than LOCK_GRACE_MS. The check is per host
 * and per pid namespace: do not share one outbox directory between hosts or containers.
 *
 * Deno: an OS lock (flock, through Deno.open: node:fs has no file locks) on the lock file, which
 * the kernel drops when the process dies: no stale locks after a crash, and no pid to check, so
 * no --allow-run (which a sandboxed relay should not need). The file stays (unlinking it could
 * let two processes lock different files); it holds the pid for people to read.
 *
 * On both, a path locked by this process cannot be locked again until released.
 */
import { open, readFile, stat } from "node:fs/promises";
import process from "node:process";
import { asError, codeOf, unlinkIfExists } from "./file-io.js";
import { WeirOutboxError } from "./outbox.js";

export type FileLock = {
  /** Gives the lock up; later calls return the same promise. Never rejects. */
  release(): Promise<void>;
};

/** An unreadable lock file younger than this may be another opener between its create and its write. */
const LOCK_GRACE_MS = 5_000;
/** Takeover attempts before giving up (each one lost to another opener taking the lock meanwhile). */
const ATTEMPTS = 5;

/** Paths (resolved) whose lock this process holds or is taking. */
const heldHere = new Set<string>();

/** The part of Deno's API for an OS file lock. */
type DenoLockFile = {
  tryLock(exclusive?: boolean): Promise<boolean>;
  truncate(len?: number): Promise<void>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
};
type DenoFiles = { open(path: string, opts: { read: boolean; write: boolean; create: boolean }): Promise<DenoLockFile> };
const deno = (globalThis as { Deno?: DenoFiles }).Deno;

/** Locks the outbox at `path` (resolved) for this process, or throws WeirOutboxError saying who holds it. */
export async function acquireFileLock(path: string): Promise<FileLock> {
  // Claimed before the first await, so two opens racing in this process cannot both win.
  if (heldHere.has(path)) throw new WeirOutboxError(`outbox ${path} is already open in this process`);
  heldHere.add(path);
  try {
    const unlock = deno ? await lockWithDeno(path, deno) : await lockWithPidFile(path);
    let released: Promise<void> | undefined;
    return {
      release: () =>
        (released ??= unlock()
          .catch(() => {})
          .finally(() => heldHere.delete(path))),
    };
  } catch (err) {
    heldHere.delete(path);
    throw err;
  }
}

/** Node: `<path>.lock` created exclusively with our pid in it; returns the unlock. */
async function lockWithPidFile(path: string): Promise<() => Promise<void>> {
  const lockPath = `${path}.lock`;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      const h = await open(lockPath, "wx");
      try {
        await h.writeFile(`${process.pid}\n`);
      } finally {
        await h.close();
      }
      return () => unlinkIfExists(lockPath);
    } catch (err) {
      if (codeOf(err) !== "EEXIST") throw err;
    }
    let text: string;
    try {
      text = await readFile(lockPath, "utf8");
    } catch (err) {
      if (codeOf(err) === "ENOENT") continue; // released meanwhile
      throw err;
    }
    const digits = /^\s*(\d+)\s*$/.exec(text)?.[1];
    if (digits !== undefined) {
      const pid = Number(digits);
      // Our own pid in a lock we do not hold (heldHere said so) is a previous incarnation: stale.
      if (pid !== process.pid) {
        const alive = pidAlive(pid);
        if (alive !== false) {
          // A sandbox that forbids signals: say so rather than blame a pid that may be gone.
          const why = alive === true ? "" : `; cannot tell whether it is alive: ${alive.message}`;
          throw new WeirOutboxError(`outbox ${path} in use by pid ${pid} (lock file ${lockPath}${why})`);
        }
      }
    } else {
      // No pid yet: another opener may be between creating the file and writing it.
      let age: number;
      try {
        age = Date.now() - (await stat(lockPath)).mtimeMs;
      } catch (err) {
        if (codeOf(err) === "ENOENT") continue;
        throw err;
      }
      if (age < LOCK_GRACE_MS) throw new WeirOutboxError(`outbox ${path} is being opened by another process (lock file ${lockPath} has no pid yet)`);
    }
    await unlinkIfExists(lockPath); // stale: take it over
  }
  throw new WeirOutboxError(`outbox ${path}: could not take the lock file ${lockPath}`);
}

/** Deno: an OS lock on `<path>.lock`, which holds our pid for people to read; returns the unlock. */
async function lockWithDeno(path: string, api: DenoFiles): Promise<() => Promise<void>> {
  const lockPath = `${path}.lock`;
  const file = await api.open(lockPath, { read: true, write: true, create: true });
  try {
    if (!(await file.tryLock(true))) throw new WeirOutboxError(`outbox ${path} in use by another process (lock file ${lockPath} is locked)`);
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${process.pid}\n`));
  } catch (err) {
    file.close();
    throw err;
  }
  // Closing releases the OS lock; through a promise, so a failing close rejects rather than throws.
  return () => Promise.resolve().then(() => file.close());
}

/** true, false (ESRCH), or the error that kept us from telling (never steal a lock on doubt). */
function pidAlive(pid: number): boolean | Error {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = codeOf(err);
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true; // alive, someone else's
    return asError(err);
  }
}
