export { AfterMatchSkip, type AfterMatchSkipStrategy } from "./skip.js";
export { Pattern, type Contiguity, type PatternContext, type Predicate, type StageDef } from "./pattern.js";
export { compile, type Nfa, type RunState, type SequencedEvent } from "./nfa.js";
export type { CepKeyState } from "./state.js";
export {
  CepOperator,
  type CepContextFold,
  type CepLateRecord,
  type CepMatch,
  type CepOperatorOptions,
  type CepOutput,
  type CepStats,
} from "./operator.js";
