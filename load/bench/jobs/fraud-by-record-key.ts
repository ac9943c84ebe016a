/** The fraud example keyed by the producers' key (the card, as the generators set partition_key): no repartition step. */
import { defineJob, stream } from "weir/jobs";
import fraud from "weir/examples/jobs/fraud";
import { CardTransactionSchema } from "weir/events";

export default defineJob({ ...fraud, name: "fraud-by-record-key", inputs: { transactions: stream(CardTransactionSchema) } });
