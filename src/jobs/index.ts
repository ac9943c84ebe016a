/**
 * `weir/jobs`: write stream-processing jobs over your own event types. A job module exports
 * `defineJob({...})`; `weir processor --jobs ./jobs/my-job.ts` (or WEIR_PROCESSOR_JOBS) runs it
 * on the worker threads, exactly once; `weir/testing`'s JobTestDriver runs it in a test.
 * See the README, "Write your own job".
 */
export {
  defineJob,
  isJob,
  type AlertInit,
  type AnyJob,
  type InputRecord,
  type Job,
  type JobDefinition,
  type MapContext,
  type OutputSpec,
  type StateEntry,
  type StreamRecord,
  type TableView,
  type TablesOf,
} from "./define-job.js";
export {
  stream,
  table,
  type JobInputs,
  type RecordMeta,
  type StreamInput,
  type StreamOptions,
  type TableInput,
  type TableOptions,
  type TableScope,
  type ValueOf,
  type VersionedHistory,
} from "./inputs.js";
export {
  custom,
  keyedProcess,
  pattern,
  windowed,
  type JobStep,
  type KeyedContext,
  type KeyedProcessOptions,
  type KeyedRecord,
  type PatternStepOptions,
} from "./steps.js";
export { REJECTED_STREAM, type Rejected } from "./job-operator.js";
export { hopping, session, tumbling, type AggregateFunctions, type WindowResult, type WindowedOutput } from "../engine/windows/index.js";
export { AfterMatchSkip, Pattern, type CepMatch, type CepOutput } from "../engine/cep/index.js";
export type { Operator, Emitter, EngineRecord, KeyValueStore, StoreProvider } from "../engine/types.js";
/** zod, the version Weir checks job options with: `options: z.strictObject({...})`. */
export { z } from "zod";
