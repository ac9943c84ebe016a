/** The risk example with trades keyed by the producers' key (the account, as the generators set partition_key): no repartition step. */
import { defineJob, stream } from "weir/jobs";
import risk from "weir/examples/jobs/risk-limits";
import { TradeSchema } from "weir/events";

export default defineJob({ ...risk, name: "risk-limits-by-record-key", inputs: { ...risk.inputs, trades: stream(TradeSchema) } });
