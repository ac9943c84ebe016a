/**
 * The error-rate example keyed by the producers' key (the host, as the generators set
 * partition_key) instead of its own key function: no repartition step. The processor benchmark
 * runs both; the difference is what the repartition step costs.
 */
import { defineJob, stream } from "weir/jobs";
import errorRate from "weir/examples/jobs/error-rate";
import { HttpAccessLogSchema } from "weir/events";

export default defineJob({ ...errorRate, name: "error-rate-by-record-key", inputs: { logs: stream(HttpAccessLogSchema) } });
