/**
 * The file outbox's single-writer lock (src/client/file-lock.ts). Node: the pid file, its live,
 * stale and half-written holders, and opens racing in one process. Deno (the lock bundled and
 * run in Deno's sandbox, test/client/fixtures/file-lock-deno.ts): the OS lock, held against
 * another process and dropped by the kernel when its holder is SIGKILLed.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { bundleModule } from "../../src/build/bundle.js";
import { DENO_RUN_OFFLINE, denoBinary, denoDir } from "../../src/build/deno.js";
import { acquireFileLock, type FileLock } from "../../src/client/file-lock.js";
import { WeirOutboxError } from "../../src/client/outbox.js";

let dir: string;
let path: string;
const held: FileLock[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-file-lock-"));
  path = join(dir, "outbox.log");
});
afterEach(async () => {
  await Promise.all(held.splice(0).map((l) => l.release()));
  await rm(dir, { recursive: true, force: true });
});

async function lock(): Promise<FileLock> {
  const l = await acquireFileLock(path);
  held.push(l);
  return l;
}

const lockFileText = async () => (await readFile(`${path}.lock`, "utf8")).trim();

describe("on Node: a pid file", () => {
  test("holds our pid until released; a second lock in this process is refused until then", async () => {
    const l = await lock();
    expect(await lockFileText()).toBe(String(process.pid));
    await expect(acquireFileLock(path)).rejects.toThrow(new WeirOutboxError(`outbox ${path} is already open in this process`));
    await Promise.all([l.release(), l.release()]);
    await expect(stat(`${path}.lock`)).rejects.toMatchObject({ code: "ENOENT" });
    await (await lock()).release();
  });

  test("two locks racing in this process: exactly one wins", async () => {
    const outcomes = await Promise.allSettled([acquireFileLock(path), acquireFileLock(path)]);
    const won = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    held.push(...won);
    expect(won).toHaveLength(1);
    expect(outcomes.find((o) => o.status === "rejected")).toMatchObject({
      reason: { message: expect.stringMatching(/already open in this process/) as string },
    });
  });

  test("a lock held by a live pid: refused with a clear error, the lock file left alone", async () => {
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      await writeFile(`${path}.lock`, `${holder.pid}\n`);
      await expect(acquireFileLock(path)).rejects.toThrow(`outbox ${path} in use by pid ${holder.pid} (lock file ${path}.lock)`);
      expect(await lockFileText()).toBe(String(holder.pid));
    } finally {
      holder.kill("SIGKILL");
    }
  });

  test("a stale lock (its pid has exited) is taken over", async () => {
    const { pid } = spawnSync(process.execPath, ["-e", ""]);
    await writeFile(`${path}.lock`, `${pid}\n`);
    await lock();
    expect(await lockFileText()).toBe(String(process.pid));
  });

  test("our own pid in a lock this process does not hold (a restarted container) is stale", async () => {
    await writeFile(`${path}.lock`, `${process.pid}\n`);
    await lock();
    expect(await lockFileText()).toBe(String(process.pid));
  });

  test("a lock without a pid: in use while fresh (an opener between create and write), stale when old", async () => {
    await writeFile(`${path}.lock`, "");
    await expect(acquireFileLock(path)).rejects.toThrow(/is being opened by another process \(lock file .* has no pid yet\)/);
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.lock`, old, old);
    await lock();
    expect(await lockFileText()).toBe(String(process.pid));
  });
});

describe("on Deno: an OS file lock", { timeout: 60_000 }, () => {
  let script: string;
  beforeEach(async () => {
    script = join(dir, "file-lock-deno.mjs");
    await writeFile(script, await bundleModule(join(import.meta.dirname, "fixtures", "file-lock-deno.ts"), { platform: "deno" }));
  });

  function deno(mode: "hold" | "try") {
    const args = [...DENO_RUN_OFFLINE, `--allow-read=${dir}`, `--allow-write=${dir}`, script, path, mode];
    const env = { DENO_DIR: denoDir(), DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1", NO_COLOR: "1" };
    const child = spawn(denoBinary(), args, { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((res) => child.on("exit", () => res()));
    return {
      child,
      exited,
      /** The first line printed ("locked" for hold). */
      firstLine: () =>
        new Promise<string>((res, rej) => {
          const check = () => out.includes("\n") && res(out.slice(0, out.indexOf("\n")));
          child.stdout.on("data", check);
          child.on("exit", () => rej(new Error(`deno exited: ${out}${err}`)));
          check();
        }),
      /** What a "try" run reported, once it exited. */
      report: async () => {
        await exited;
        if (child.exitCode !== 0) throw new Error(`deno exited with ${child.exitCode}: ${err}`);
        return JSON.parse(out) as Record<string, string>;
      },
    };
  }

  test("one process at a time; a second lock in the same process is refused; the file keeps the holder's pid", async () => {
    const run = deno("try");
    expect(await run.report()).toEqual({
      first: "ok",
      again: `outbox ${path} is already open in this process`,
      afterRelease: "ok",
    });
    expect(await lockFileText()).toBe(String(run.child.pid));
  });

  test("a lock held by another process is refused; once its holder is SIGKILLed the kernel has dropped it", async () => {
    const holder = deno("hold");
    try {
      expect(await holder.firstLine()).toBe("locked");
      expect((await deno("try").report()).first).toBe(`outbox ${path} in use by another process (lock file ${path}.lock is locked)`);
    } finally {
      holder.child.kill("SIGKILL");
    }
    await holder.exited;
    expect((await deno("try").report()).first).toBe("ok");
  });
});
