import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KafkaJars } from "./kafka-jars.js";
import { resolveToolSettings } from "../config.js";

/*
 * AppCDS (a dynamic class-data-sharing archive) for the broker JVM. Measured on the 2-core machines: broker start
 * to healthy drops from ~3.5 s to ~1.5 s, which the integration tests pay on every mid-stream restart.
 *
 * The archive is written once by a broker started with -XX:ArchiveClassesAtExit, when it exits after SIGTERM.
 * A truncated archive makes the JVM die with SIGBUS, so a dump is only promoted after a throwaway JVM has loaded
 * it with -Xshare:on; a broker that still fails to start with an archive gets it deleted and is retried without.
 * The key covers the java binary and the jar set, since an archive only fits the JVM and classpath that made it.
 * Set WEIR_KAFKA_CDS=0 (or false) to turn this off.
 */

const PENDING = "cds-pending";
const LOCK_STALE_MS = 10 * 60_000;

export function cdsEnabled(): boolean {
  return resolveToolSettings().kafkaCds;
}

const baseCache = new Map<string, string | undefined>();

function archiveBase(jars: KafkaJars): string | undefined {
  if (!baseCache.has(jars.libsDir)) baseCache.set(jars.libsDir, computeArchiveBase(jars));
  return baseCache.get(jars.libsDir);
}

function computeArchiveBase(jars: KafkaJars): string | undefined {
  const which = spawnSync("sh", ["-c", "command -v java"], { encoding: "utf8" });
  if (which.status !== 0) return undefined;
  const java = realpathSync(which.stdout.trim());
  const st = statSync(java);
  const key = createHash("sha256")
    .update(`${java}\0${st.size}\0${st.mtimeMs}\0${readdirSync(jars.libsDir).sort().join("\0")}`)
    .digest("hex")
    .slice(0, 16);
  return join(dirname(jars.libsDir), "cds", `kafka-${key}`);
}

/** JVM args to use the archive if one exists (also for the StorageTool run). */
export function cdsUseArgs(jars: KafkaJars): string[] {
  if (!cdsEnabled()) return [];
  const base = archiveBase(jars);
  return base !== undefined && existsSync(`${base}.jsa`) ? [`-XX:SharedArchiveFile=${base}.jsa`] : [];
}

/**
 * Args for a broker start: use the archive, or, when none exists and no other broker is making one, have this
 * broker dump one at exit (recorded in the node dir so finishCdsDump can promote it after the stop).
 */
export function cdsStartArgs(jars: KafkaJars, nodeDir: string): string[] {
  if (!cdsEnabled()) return [];
  const use = cdsUseArgs(jars);
  if (use.length > 0) return use;
  const base = archiveBase(jars);
  if (base === undefined) return [];
  mkdirSync(dirname(base), { recursive: true });
  const lock = `${base}.lock`;
  removeStale(dirname(base));
  try {
    writeFileSync(lock, `${nodeDir}\n`, { flag: "wx" });
  } catch {
    return []; // another broker is dumping right now
  }
  const tmp = `${base}.jsa.tmp-${randomBytes(4).toString("hex")}`;
  writeFileSync(join(nodeDir, PENDING), `${tmp}\n${lock}\n`);
  return [`-XX:ArchiveClassesAtExit=${tmp}`];
}

/**
 * After the broker has exited: promote its dump if it loads cleanly, else discard it. `graceful` is false when the
 * broker had to be SIGKILLed, in which case the dump is certainly incomplete.
 */
export async function finishCdsDump(jars: KafkaJars, nodeDir: string, graceful: boolean): Promise<void> {
  const pending = join(nodeDir, PENDING);
  if (!existsSync(pending)) return;
  const [tmp, lock] = readFileSync(pending, "utf8").trim().split("\n");
  try {
    const base = archiveBase(jars);
    if (graceful && tmp && base && existsSync(tmp) && !existsSync(`${base}.jsa`) && (await archiveLoads(jars, tmp))) {
      renameSync(tmp, `${base}.jsa`);
    }
  } finally {
    if (tmp) rmSync(tmp, { force: true });
    if (lock) rmSync(lock, { force: true });
    rmSync(pending, { force: true });
  }
}

/** Async on purpose: this runs while tests have clients in flight, so it must not block the event loop. */
function archiveLoads(jars: KafkaJars, archive: string): Promise<boolean> {
  const dir = dirname(archive);
  const errorFile = join(dir, `hs_err-${process.pid}.log`);
  return new Promise((resolve) => {
    const child = spawn(
      "java",
      ["-Xshare:on", `-XX:SharedArchiveFile=${archive}`, `-XX:ErrorFile=${errorFile}`, "-cp", jars.classpath, "kafka.tools.StorageTool", "random-uuid"],
      { cwd: dir, stdio: "ignore", timeout: 60_000 },
    );
    child.on("error", () => resolve(false));
    child.on("close", (code) => {
      rmSync(errorFile, { force: true });
      resolve(code === 0);
    });
  });
}

/** Locks and dumps left by brokers that were killed outside our stop path (e.g. an 'exit' handler's SIGKILL). */
function removeStale(cdsDir: string): void {
  for (const name of readdirSync(cdsDir)) {
    if (!name.endsWith(".lock") && !name.includes(".jsa.tmp-")) continue;
    const file = join(cdsDir, name);
    try {
      if (Date.now() - statSync(file).mtimeMs > LOCK_STALE_MS) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  }
}

/** Called when a broker using the archive died during startup: the archive is suspect, so drop it. */
export function discardCdsArchive(jars: KafkaJars): void {
  const base = archiveBase(jars);
  if (base !== undefined) rmSync(`${base}.jsa`, { force: true });
}
