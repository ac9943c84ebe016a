/**
 * The streams a subscriber may ask for, and how a Kafka record of each becomes a delivery: whose
 * it is (tenant), the key the subscriber sees, and its kind.
 *   results.<job>   the job's outputs (JSON), tenant from the weir.tenant header, key without the tenant prefix
 *   alerts          fraud matches and limit breaches (JSON AlertRecord), likewise
 *   events.<type>   raw events of an allowed type (protobuf payload), tenant from weir.tenant, key = partition key
 * A record without a tenant (e.g. the engine rejecting a shared quote) is delivered to nobody.
 */
import type { SchemaRegistry } from "../schema/registry.js";
import { ALERTS_TOPIC, headers as recordHeaders, resultsTopic, splitTenantKey } from "../kafka-contract.js";
import type { SlowPolicy } from "./subscriber-queue.js";

export type RecordView = { readonly tenant: string; readonly key: string; readonly kind: string };

export type StreamSpec = {
  readonly name: string;
  readonly topic: string;
  readonly contentType: string;
  readonly policy: SlowPolicy;
  view(key: string, headers: Readonly<Record<string, string>>): RecordView | undefined;
};

export type CatalogOptions = {
  readonly jobs: readonly string[];
  /** Event types whose raw events may be subscribed to. */
  readonly rawTypes: readonly string[];
  /** Streams conflated (latest value per key) for slow subscribers; the others disconnect them. */
  readonly conflate: readonly string[];
};

/** Results and alerts: keys are tenant-qualified by the processor. */
function qualifiedView(key: string, headers: Readonly<Record<string, string>>): RecordView | undefined {
  const split = splitTenantKey(key);
  const tenant = headers[recordHeaders.tenant];
  if (!split || !tenant || split.tenant !== tenant) return undefined;
  return { tenant, key: split.key, kind: headers[recordHeaders.stream] ?? "" };
}

export function streamCatalog(registry: SchemaRegistry, opts: CatalogOptions): Map<string, StreamSpec> {
  const policy = (name: string): SlowPolicy => (opts.conflate.includes(name) ? "conflate" : "disconnect");
  const streams: StreamSpec[] = [
    ...opts.jobs.map((job) => ({
      name: `results.${job}`,
      topic: resultsTopic(job),
      contentType: "application/json",
      policy: policy(`results.${job}`),
      view: qualifiedView,
    })),
    { name: "alerts", topic: ALERTS_TOPIC, contentType: "application/json", policy: policy("alerts"), view: qualifiedView },
    ...opts.rawTypes.map((typeName) => {
      const type = registry.eventType(typeName);
      if (!type) throw new Error(`raw stream for unknown event type ${typeName}`);
      return {
        name: `events.${typeName}`,
        topic: type.topic,
        contentType: `application/x-protobuf; messageType=${typeName}`,
        policy: policy(`events.${typeName}`),
        view: (key: string, headers: Readonly<Record<string, string>>): RecordView | undefined => {
          const tenant = headers[recordHeaders.tenant];
          return tenant && headers[recordHeaders.type] === typeName ? { tenant, key, kind: typeName } : undefined;
        },
      };
    }),
  ];
  return new Map(streams.map((s) => [s.name, s]));
}
