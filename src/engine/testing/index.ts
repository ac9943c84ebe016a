export {
  EngineTestDriver,
  type AnyOperator,
  type ChangelogEntry,
  type EngineTestDriverOptions,
  type InputOf,
  type OperatorFactory,
  type OutputOf,
  type OutputRecord,
  type StoreProvider,
  type StoreSnapshot,
} from "./engine-test-driver.js";
