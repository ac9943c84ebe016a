/**
 * Loads job modules: the user's own files (`./jobs/page-stats.ts`, TypeScript or JavaScript) or
 * package specifiers (`weir/examples/jobs/fraud`). A module exports its job as the default export
 * or under any name (one module may hold several). Each is imported once per thread: the
 * processor's main thread reads the jobs' inputs and keys, every worker thread imports the same
 * modules to run their tasks (TypeScript through tsx's loader, which every Weir process has).
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { WeirError } from "../errors.js";
import { isJob, type AnyJob } from "./define-job.js";

export type LoadedJob = { readonly job: AnyJob; readonly module: string };

/** A specifier as an importable URL or package name: files relative to `cwd`, packages as given. */
export function moduleUrl(specifier: string, cwd = process.cwd()): string {
  if (specifier.startsWith("file:")) return specifier;
  if (isAbsolute(specifier) || specifier.startsWith("./") || specifier.startsWith("../")) return pathToFileURL(resolve(cwd, specifier)).href;
  return specifier;
}

/** The jobs of these modules, by name (a name defined twice is refused). */
/**
 * Weir runs as TypeScript through tsx in its repository, and as built JavaScript from the npm
 * package; there, a job module written in TypeScript gets tsx's loader registered first (once per
 * thread: worker threads load the jobs themselves).
 */
let typeScriptLoader: Promise<void> | undefined;
function loadsTypeScript(url: string): Promise<void> {
  if (!/\.[cm]?ts$/.test(url) || import.meta.url.endsWith(".ts")) return Promise.resolve();
  typeScriptLoader ??= import("tsx/esm/api").then(({ register }) => void register());
  return typeScriptLoader;
}

export async function loadJobs(specifiers: readonly string[], cwd = process.cwd()): Promise<Map<string, LoadedJob>> {
  const jobs = new Map<string, LoadedJob>();
  for (const specifier of specifiers) {
    const url = moduleUrl(specifier, cwd);
    await loadsTypeScript(url);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url)) as Record<string, unknown>;
    } catch (err) {
      throw new WeirError("WEIR_ERR_JOB", specifier, `cannot load the module: ${(err as Error).message}`);
    }
    const found = [...new Set(Object.values(mod).filter(isJob))];
    if (found.length === 0) throw new WeirError("WEIR_ERR_JOB", specifier, "the module exports no job (export default defineJob({...}))");
    for (const job of found) {
      const seen = jobs.get(job.name);
      if (seen) throw new WeirError("WEIR_ERR_JOB", job.name, `defined twice, in ${seen.module} and ${url}`);
      jobs.set(job.name, { job, module: url });
    }
  }
  return jobs;
}
