/**
 * The Kafka contract: every topic name, header name and key format Weir writes or reads, in one
 * module. Gateways, processors, sinks, subscriptions, tests and anyone consuming Weir's topics from
 * outside agree on these; change them here or nowhere.
 *
 * Topics
 *   weir.events.<type>        accepted events of one type; the name comes from the type's
 *                             `(weir.v1.event).topic` option in the schema image (see SchemaRegistry)
 *   weir.dead-letter          refused events (DeadLetter records with the reason); WEIR_DEAD_LETTER_TOPIC
 *   weir.results.<job>        a job's outputs (JSON), exactly once
 *   weir.alerts               alerts of every job (JSON AlertRecord), delivered by the webhook sink
 *   weir.alerts.refused       alerts the webhook refused for good (4xx), with the reason in headers
 *   <group>.changelog         a job's state (compacted), one partition per input partition
 *   <group>.repartition       a job's input re-keyed by the job's key (jobs keyed unlike their producers)
 *
 * Record keys
 *   events: the envelope's partition key, else its id. Results, alerts and changelog entries of
 *   tenant data: tenant-qualified, "<tenant>/<key>" (see tenantKey).
 */

/** Default dead-letter topic (the gateway's WEIR_DEAD_LETTER_TOPIC). */
export const DEAD_LETTER_TOPIC = "weir.dead-letter";

/** Where a job's outputs go. */
export const resultsTopic = (job: string): string => `weir.results.${job}`;

/** Alerts of every job, delivered from here by the webhook sink. */
export const ALERTS_TOPIC = "weir.alerts";
/** Partitions of the alerts topic when Weir creates it. Alerts are keyed by the engine key (card, account), so one key's alerts stay in order. */
export const ALERTS_TOPIC_PARTITIONS = 4;
/** Alerts the webhook refused for good (a 4xx other than 408/425/429), kept with the reason. */
export const REFUSED_ALERTS_TOPIC = "weir.alerts.refused";

/**
 * A job's state belongs to its consumer group (as a Kafka Streams changelog belongs to its
 * application id): one compacted topic, partition p holding the state of input partition p.
 */
export const changelogTopic = (groupId: string): string => `${groupId}.changelog`;

/** Whether a topic is Weir's: its namespace, a job's changelog or repartition topic, or another region's mirror of one (`<region>.weir.…`). */
export function isWeirTopic(topic: string): boolean {
  return /^([A-Za-z0-9_-]+\.)?weir\./.test(topic) || topic.endsWith(".changelog") || topic.endsWith(".repartition");
}

/**
 * A job's repartition topic (when the job keys its input differently from the producers): the
 * input records re-keyed by the job's key, one partition per task. Internal to the job's group.
 */
export const repartitionTopic = (groupId: string): string => `${groupId}.repartition`;

/**
 * A control record of a repartition topic (header weir.control = "watermark", JSON value): how far
 * event time has got on one source partition of the job's input, written to every partition of
 * the repartition topic in the same transaction as the re-keyed records. A task's watermark is the
 * lowest over the sources (Flink's watermark propagation): records of a source that is behind are
 * not made late by the sources ahead of it. A task waits until it has heard from all `of` source
 * partitions; `idle`: the source has had no records for a while and does not hold the watermark
 * back until it has records again.
 */
export type WatermarkMarker = { readonly source: string; readonly of: number; readonly maxEventTimeMs?: number; readonly idle?: true };

/**
 * Header names. Few on purpose on event records: kafkajs spends as much on six headers as on the
 * rest of a record; the event time travels as the record timestamp instead.
 */
export const headers = {
  /** The event's id (the idempotency key), on event and dead-letter records. */
  id: "weir.id",
  /** The publishing tenant, on every record that belongs to a tenant. */
  tenant: "weir.tenant",
  /** The event type's full name, on event records. */
  type: "weir.type",
  /** Why an event was refused, on dead-letter records. */
  errorCode: "weir.error-code",
  /** W3C trace context of a traced event, on any record. */
  traceparent: "traceparent",
  /** Envelope attributes travel as `attr.<name>` headers on event records. */
  attributePrefix: "attr.",
  /** The job's output stream (e.g. "final", "alerts"), on result and alert records. */
  stream: "weir.stream",
  /** The job that wrote a result or alert. */
  job: "weir.job",
  /** On a repartition topic's control records: what they are ("watermark", see WatermarkMarker). */
  control: "weir.control",
  /**
   * On a repartition topic's records: where the record was re-keyed from, "<topic>/<partition>@<offset>".
   * A task applies each source position once (a record the producer wrote twice is dropped).
   */
  source: "weir.source",
  /** On refused alerts: why, the webhook's status and body, and where the alert came from. */
  refusedReason: "weir.refused.reason",
  refusedStatus: "weir.refused.status",
  refusedBody: "weir.refused.body",
  sourceTopic: "weir.source.topic",
  sourcePartition: "weir.source.partition",
  sourceOffset: "weir.source.offset",
} as const;

/**
 * Engine keys are tenant-qualified, "<tenant>/<key>": the processor prefixes the record key (and
 * the ids the engine keys state by, such as a trade's account) with the tenant that published it,
 * so two tenants' "web-1" or "acct-7" never share state, and every output knows its tenant.
 * Global-table inputs (reference data, quotes) stay unqualified: they are shared market data.
 * Tenant names cannot contain "/" (config refuses them).
 */
export const TENANT_SEPARATOR = "/";

export function tenantKey(tenant: string, key: string): string {
  return `${tenant}${TENANT_SEPARATOR}${key}`;
}

/** The tenant and the tenant's own key of a qualified key, or undefined for a shared (unqualified) one. */
export function splitTenantKey(qualified: string): { tenant: string; key: string } | undefined {
  const at = qualified.indexOf(TENANT_SEPARATOR);
  return at > 0 ? { tenant: qualified.slice(0, at), key: qualified.slice(at + 1) } : undefined;
}

/**
 * An alert as written to ALERTS_TOPIC (JSON): what the webhook sink delivers and subscribers of
 * the `alerts` stream receive. `alertId` is derived from the alert's content, never random:
 * reprocessing the same input after a crash yields the same id (the webhook's idempotency key).
 */
export type AlertRecord = {
  readonly alertId: string;
  /** The job that raised it: "fraud" or "risk-limits". */
  readonly job: string;
  /** "fraud", "breach" or "cleared". */
  readonly kind: string;
  /** The engine key it is about (card id, account id). */
  readonly key: string;
  /** Event time of the input that raised it. */
  readonly atMs: number;
  /** One line a person can read. */
  readonly summary: string;
  /** The engine's output as emitted. */
  readonly detail: unknown;
};
