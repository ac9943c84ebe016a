/**
 * `weir stack up --regions N`: N local regions, each a whole single-region stack (its own Kafka and
 * Redis) in `<dataDir>/region-<name>`, and one MirrorMaker 2 between them in `<dataDir>/mirror`.
 * Regions are named a, b, c…: a region's topics appear in the others as `<name>.<topic>`.
 */
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mirrorMakerPid, startMirrorMaker, stopMirrorMaker } from "./mirror-maker.js";
import { stackDown, stackStatus, stackUp, type StackInfo, type StackOptions } from "./stack.js";

export const MAX_REGIONS = 3;

export const regionName = (i: number): string => String.fromCharCode("a".charCodeAt(0) + i);
export const regionDir = (dataDir: string, name: string): string => join(dataDir, `region-${name}`);
export const mirrorDir = (dataDir: string): string => join(dataDir, "mirror");

export type RegionInfo = StackInfo & { readonly region: string };

/** The regions set up in a data dir (empty: a single-region stack, or none). */
export function regionsIn(dataDir: string): string[] {
  if (!existsSync(dataDir)) return [];
  return readdirSync(dataDir)
    .filter((f) => /^region-[a-z]$/.test(f))
    .map((f) => f.slice("region-".length))
    .sort();
}

/**
 * Starts every region's stack and MirrorMaker between them. Prints the first region's settings
 * (what `eval "$(weir stack up --regions 2)"` takes) with WEIR_REMOTE_REGIONS; each region's own
 * settings are in `<dataDir>/region-<name>/env`.
 */
export async function regionsUp(dataDir: string, count: number, opts: Pick<StackOptions, "out" | "log" | "withJaeger">): Promise<RegionInfo[]> {
  if (!(Number.isInteger(count) && count >= 2 && count <= MAX_REGIONS)) throw new RangeError(`regions must be 2 to ${MAX_REGIONS}, not ${count}`);
  const out = opts.out ?? ((line: string) => console.log(line));
  const log = opts.log ?? ((line: string) => console.error(line));
  const names = Array.from({ length: count }, (_, i) => regionName(i));
  const infos: RegionInfo[] = [];
  // One at a time: each region's first start fetches or checks the same cached jars.
  for (const [i, name] of names.entries()) {
    const lines: string[] = [];
    const info = await stackUp({
      dataDir: regionDir(dataDir, name),
      out: (l) => lines.push(l),
      log: (l) => log(`[region ${name}] ${l}`),
      withJaeger: i === 0 && opts.withJaeger,
    });
    const remote = names.filter((n) => n !== name);
    const env = [...lines, `WEIR_REMOTE_REGIONS=${remote.join(",")}`];
    writeFileSync(join(regionDir(dataDir, name), "env"), `${env.join("\n")}\n`);
    if (i === 0) for (const l of env) out(l);
    else out(`# region ${name}: ${env.join(" ")}`);
    infos.push({ ...info, region: name });
  }
  const started = mirrorMakerPid(mirrorDir(dataDir)) === undefined;
  await startMirrorMaker({ dir: mirrorDir(dataDir), regions: infos.map((r) => ({ name: r.region, brokers: r.kafkaBrokers })) });
  log(
    `weir stack: MirrorMaker 2 ${started ? "started" : "already running"} between regions ${names.join(", ")} (config ${join(mirrorDir(dataDir), "mm2.properties")})`,
  );
  return infos;
}

/** Stops MirrorMaker, then every region. */
export async function regionsDown(dataDir: string, opts: Pick<StackOptions, "out"> & { purge?: boolean }): Promise<void> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const mm = await stopMirrorMaker(mirrorDir(dataDir));
  out(`mirror-maker ${mm === "not-running" ? "was not running" : `stopped (${mm})`}`);
  for (const name of regionsIn(dataDir)) await stackDown({ dataDir: regionDir(dataDir, name), out: (l) => out(`[region ${name}] ${l}`) });
  if (opts.purge) {
    rmSync(dataDir, { recursive: true, force: true });
    out(`removed ${dataDir}`);
  }
}

/** One block per region, then MirrorMaker's line; false when some region was never set up. */
export async function regionsStatus(dataDir: string, opts: Pick<StackOptions, "out">): Promise<boolean> {
  const out = opts.out ?? ((line: string) => console.log(line));
  let all = true;
  for (const name of regionsIn(dataDir))
    all = (await stackStatus({ dataDir: regionDir(dataDir, name), out: (l) => out(`[region ${name}] ${l}`) })) !== undefined && all;
  const pid = mirrorMakerPid(mirrorDir(dataDir));
  out(`mirror-maker ${pid === undefined ? "down" : `up (pid ${pid})`}`);
  return all;
}
