/** The stream-processing engine: pure, deterministic operators behind the Operator contract. */
export * from "./types.js";
export * from "./windows/index.js";
export * from "./cep/index.js";
export * from "./tables/index.js";
export {
  RiskOperator,
  memoryRiskStores,
  riskStores,
  BREACHES_STREAM,
  RISK_STREAM,
  REJECTED_STREAM,
  MTM_STREAM,
  type RiskOutput,
  type RiskSnapshot,
  type RiskOperatorOptions,
  type RiskStores,
} from "./jobs/risk-limits.js";
export { limitsConfigSchema, type LimitEvent, type LimitsConfig } from "./risk/limits.js";
export { mtmPolicySchema, DEFAULT_MTM_POLICY, type MtmPolicy, type MtmUpdate } from "./risk/mtm.js";
export type { RiskInput } from "./risk/input.js";
