/** The stream-processing engine: pure, deterministic operators behind the Operator contract. */
export * from "./types.js";
export * from "./windows/index.js";
export * from "./cep/index.js";
export {
  errorRateJob,
  errorRateDefaults,
  accessLogLine,
  accessLogRecord,
  type AccessLogLine,
  type ErrorRateCounts,
  type ErrorRateOptions,
} from "./jobs/error-rate.js";
export { FraudJob, fraudPattern, toFraudTransaction, fraudRecord, type FraudAlert, type FraudTransaction, type FraudJobOptions } from "./jobs/fraud.js";
export {
  RiskOperator,
  memoryRiskStores,
  BREACHES_STREAM,
  RISK_STREAM,
  REJECTED_STREAM,
  type RiskOutput,
  type RiskOperatorOptions,
  type RiskStores,
} from "./jobs/risk-limits.js";
