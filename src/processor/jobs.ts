/**
 * The jobs a process runs, from its config: the modules of WEIR_PROCESSOR_JOBS loaded, each job's
 * options (WEIR_JOB_OPTIONS) checked by its own schema, and every job bound to the schema image
 * (WEIR_SCHEMA_IMAGE). Everything that can be wrong with a job is found here, before any consumer
 * or thread starts.
 */
import type { Config } from "../config.js";
import { WeirError } from "../errors.js";
import { loadJobs } from "../jobs/load-jobs.js";
import { RuntimeJob } from "../jobs/runtime-job.js";
import { SchemaRegistry } from "../schema/registry.js";

export type ConfiguredJob = {
  readonly runtime: RuntimeJob;
  /** Where the job is defined (module URL or package specifier): worker threads import it. */
  readonly module: string;
};

export async function configuredJobs(
  config: Pick<Config, "processorJobs" | "jobOptions" | "schemaImage"> & Partial<Pick<Config, "remoteRegions" | "crossRegionDedupHours">>,
): Promise<ConfiguredJob[]> {
  const loaded = await loadJobs(config.processorJobs);
  for (const name of Object.keys(config.jobOptions)) {
    if (!loaded.has(name))
      throw new WeirError(
        "WEIR_ERR_CONFIG",
        `WEIR_JOB_OPTIONS names job ${name}, which WEIR_PROCESSOR_JOBS does not load (loaded: ${[...loaded.keys()].join(", ") || "none"})`,
      );
  }
  const registry = config.schemaImage ? SchemaRegistry.fromFile(config.schemaImage) : SchemaRegistry.builtin();
  const regions = config.remoteRegions?.length ? { remote: config.remoteRegions, dedupWindowMs: (config.crossRegionDedupHours ?? 24) * 3_600_000 } : undefined;
  return [...loaded.values()].map(({ job, module }) => ({ runtime: RuntimeJob.resolve(job, config.jobOptions[job.name], registry, regions), module }));
}
