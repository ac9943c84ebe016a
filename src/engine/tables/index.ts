export { VersionedTable, versionedTableDefaults, type PutResult, type Version, type VersionedEntry, type VersionedTableOptions } from "./versioned-table.js";
export { TableWatermark, type TableWatermarkOptions, type TableWatermarkState } from "./table-watermark.js";
export {
  EventTimeGate,
  type EventTimeGateOptions,
  type GateEntry,
  type GateKeyState,
  type GateMeta,
  type GateRecord,
  type OfferResult,
} from "./event-time-gate.js";
