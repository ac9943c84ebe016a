/**
 * The risk job's input: one union over the four topics it reads. Plain data (the engine does not
 * depend on protobuf; see from-proto.ts for the mapping from the generated types).
 */
import type { FxRateRef, InstrumentRef } from "./reference-table.js";
import type { QuoteInput, TradeInput } from "./positions.js";

export type RiskInput =
  | ({ readonly kind: "instrument" } & InstrumentRef)
  | ({ readonly kind: "fx" } & FxRateRef)
  | ({ readonly kind: "trade" } & TradeInput)
  | ({ readonly kind: "quote"; readonly source?: string } & QuoteInput);

/**
 * The record key each kind is expected to carry: instruments by symbol, FX by "BASE/QUOTE" (the
 * compaction keys of the reference topics), trades by account, quotes by symbol. The operator reads
 * the value, not the key; the key decides partitioning. Positions are per account, so reference
 * data and quotes must reach every instance of the job (a broadcast / global table, or a single
 * partition), while trades may be partitioned by account.
 *
 * A quote's optional `source` names where it was read from ("topic/partition"): the quote table's
 * watermark is the minimum over sources, so quotes from several partitions may be skewed against
 * each other by more than the out-of-orderness bound without being late. Without it, all quotes
 * count as one source.
 */
export function riskRecordKey(input: RiskInput): string {
  switch (input.kind) {
    case "instrument":
      return input.symbol;
    case "fx":
      return `${input.base}/${input.quote}`;
    case "trade":
      return input.accountId;
    case "quote":
      return input.symbol;
  }
}
