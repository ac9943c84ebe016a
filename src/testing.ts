/** `weir/testing`: run a whole job (JobTestDriver) or one engine operator (EngineTestDriver) in a test, without Kafka. */
export * from "./engine/testing/index.js";
export { JobTestDriver, type DriverOutput, type JobTestDriverOptions, type PipeOptions } from "./jobs/testing/job-test-driver.js";
