/** Records of an error-rate job's repartition topic, as its repartition step writes them (tenant acme, host web-1). */
import { create, toBinary } from "@bufbuild/protobuf";
import type { KafkaMessage } from "kafkajs";
import { HttpAccessLogSchema } from "../../src/events.js";
import { headers } from "../../src/kafka-contract.js";

/** An access log re-keyed from `source` ("topic/partition") at `sourceOffset`; with `id`, the event's id header too. */
export function repartitionedAccessLog(opts: { source: string; sourceOffset: number; status: number; at: number; id?: string }): KafkaMessage {
  const message = {
    key: Buffer.from("web-1"),
    value: Buffer.from(toBinary(HttpAccessLogSchema, create(HttpAccessLogSchema, { host: "web-1", method: "GET", path: "/", status: opts.status }))),
    timestamp: String(opts.at),
    offset: "0",
    attributes: 0,
    size: 0,
    headers: {
      [headers.type]: HttpAccessLogSchema.typeName,
      [headers.tenant]: "acme",
      ...(opts.id !== undefined ? { [headers.id]: opts.id } : {}),
      [headers.source]: `${opts.source}@${opts.sourceOffset}`,
    },
  };
  // kafkajs's KafkaMessage is a union of its two wire formats; this is the record-batch one.
  return message as unknown as KafkaMessage;
}
