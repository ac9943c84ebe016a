/** The scenario jobs shipped in examples/jobs/, resolved as a processor would (options checked, built-in schema image). */
import { configuredJobs, type ConfiguredJob } from "../../src/processor/jobs.js";

export type ExampleJob = "error-rate" | "fraud" | "risk-limits";

/** `remoteRegions`: the job also reads those regions' mirrored topics (WEIR_REMOTE_REGIONS). */
export async function exampleJob(name: ExampleJob, options?: Record<string, unknown>, remoteRegions?: string[]): Promise<ConfiguredJob> {
  const [job] = await configuredJobs({
    processorJobs: [`weir/examples/jobs/${name}`],
    jobOptions: options ? { [name]: options } : {},
    schemaImage: "",
    ...(remoteRegions ? { remoteRegions, crossRegionDedupHours: 1 } : {}),
  });
  return job!;
}
