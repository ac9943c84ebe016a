/** Kafka records of the raw event topics, as the engine tasks take them. */
import type { IHeaders, KafkaMessage } from "kafkajs";
import type { RawRecord } from "./thread-messages.js";
import { WATERMARK_MARKER_TYPE } from "./shard-runtime.js";
import { headers, tenantKey } from "../kafka-contract.js";

/** A header's value as text (kafkajs decodes a header without a value as null). */
function headerString(v: IHeaders[string] | null): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return headerString(v[0]);
  return Buffer.isBuffer(v) ? v.toString("utf8") : v;
}

/**
 * The record as a RawRecord, or undefined when it carries no event type the job reads. A
 * partitioned record's key is qualified with its tenant (src/kafka-contract.ts); a global record
 * (`global` true) keeps its key and carries its source and offset, so each task applies it once;
 * so does a repartitioned record, with the position it was re-keyed from (its `weir.source`
 * header): kafkajs's transactional producer has been seen to write a batch twice within one
 * transaction when it retried a send (the chaos suite's broker kills), and the task drops the copy.
 */
export function rawRecordOf(
  m: KafkaMessage,
  topic: string,
  partition: number,
  accepts: (type: string) => boolean,
  global = false,
  /** Keep the event's id (the `weir.id` header): a job reading several regions drops ids it has seen. */
  withId = false,
): RawRecord | undefined {
  // A repartition topic's watermark marker (WatermarkMarker): for the task of this partition.
  if (!global && headerString(m.headers?.[headers.control]) === "watermark") {
    return { type: WATERMARK_MARKER_TYPE, partition, key: "", tenant: "", timestampMs: Number(m.timestamp), value: m.value ?? Buffer.alloc(0) };
  }
  const type = headerString(m.headers?.[headers.type]);
  if (type === undefined || !accepts(type)) return undefined;
  const key = m.key?.toString("utf8") ?? "";
  const tenant = headerString(m.headers?.[headers.tenant]);
  const record: RawRecord = {
    type,
    partition,
    key: global || !tenant ? key : tenantKey(tenant, key),
    tenant: tenant ?? "",
    timestampMs: Number(m.timestamp),
    value: m.value ?? Buffer.alloc(0),
  };
  if (global) return { ...record, source: `${topic}/${partition}`, offset: Number(m.offset) };
  const id = withId ? headerString(m.headers?.[headers.id]) : undefined;
  const identified = id ? { ...record, id } : record;
  const position = sourcePosition(headerString(m.headers?.[headers.source]));
  return position ? { ...identified, ...position } : identified;
}

/** A repartitioned record's `weir.source` header ("topic/partition@offset"): where it was re-keyed from. */
export function sourcePosition(header: string | undefined): { source: string; offset: number } | undefined {
  const at = header?.lastIndexOf("@") ?? -1;
  return header && at > 0 ? { source: header.slice(0, at), offset: Number(header.slice(at + 1)) } : undefined;
}
