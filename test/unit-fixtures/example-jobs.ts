/** The scenario jobs shipped in examples/jobs/, resolved as a processor would (options checked, built-in schema image). */
import { configuredJobs, type ConfiguredJob } from "../../src/processor/jobs.js";

export type ExampleJob = "error-rate" | "fraud" | "risk-limits";

export async function exampleJob(name: ExampleJob, options?: Record<string, unknown>): Promise<ConfiguredJob> {
  const [job] = await configuredJobs({ processorJobs: [`weir/examples/jobs/${name}`], jobOptions: options ? { [name]: options } : {}, schemaImage: "" });
  return job!;
}
