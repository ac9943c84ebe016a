export type { AggregateFunctions } from "./aggregate.js";
export {
  assignWindows,
  hopping,
  session,
  tumbling,
  type HoppingWindows,
  type SessionWindows,
  type TumblingWindows,
  type WindowAssigner,
} from "./assigners.js";
export {
  resolveWindowedAggregateOptions,
  windowedAggregateDefaults,
  type EmitMode,
  type WindowedAggregateDefaults,
  type WindowedAggregateInput,
  type WindowedAggregateOptions,
} from "./options.js";
export { PROGRESS_KEY, type WindowProgress } from "./progress.js";
export type { KeyWindows, StoredWindow } from "./state.js";
export {
  WindowedAggregate,
  windowedAggregateStores,
  type NamedStores,
  type WindowedAggregateStats,
  type WindowedAggregateStores,
} from "./windowed-aggregate.js";
export {
  isWindowResult,
  type LateRecord,
  type WindowBounds,
  type WindowResult,
  type WindowResultKind,
  type WindowedOutput,
} from "./window.js";
