/**
 * Which Kafka client library backs the EventLog port (WEIR_KAFKA_CLIENT). The adapter modules
 * are imported only when chosen, so an optional client that is not installed costs nothing
 * until someone selects it, and then fails with WEIR_ERR_CONFIG saying how to install it.
 */
import { WeirError } from "../../errors.js";
import type { EventLog } from "../../ingest/ports.js";
import type { KafkaSecurity } from "./kafka-security.js";
import type { Logger } from "../../log.js";

export const kafkaClients = ["kafkajs", "confluent", "platformatic"] as const;
export type KafkaClient = (typeof kafkaClients)[number];

/** An EventLog that also has to connect before its first publish. */
export type ConnectableEventLog = EventLog & { connect(): Promise<void> };

export type EventLogSettings = {
  readonly client: string;
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly replicationFactor: number;
  readonly stallMs: number;
  /** The gateway's publish timeout (WEIR_KAFKA_PUBLISH_TIMEOUT_MS). */
  readonly publishTimeoutMs: number;
  /** The age after which an unconfirmed dedup claim is verified against Kafka by other gateways (WEIR_DEDUP_PENDING_TTL_MS); config ensures it exceeds publishTimeoutMs. */
  readonly dedupPendingTtlMs: number;
  readonly logger: Logger;
  readonly security?: KafkaSecurity;
};

export function isKafkaClient(name: string): name is KafkaClient {
  return (kafkaClients as readonly string[]).includes(name);
}

/**
 * How long a client may keep retrying one record: past the gateway's publish timeout (so a
 * broker restart is ridden out even after the caller got RETRY_AFTER), and well before the dedup
 * claim turns stale (then another gateway verifies it against Kafka and may publish the id
 * again), so the send settles (confirm or release) while the claim still guards the id.
 * kafkajs has no such bound (it retries until it succeeds or reports a failure).
 */
export function deliveryTimeoutMs(publishTimeoutMs: number, dedupPendingTtlMs: number): number {
  return Math.floor(publishTimeoutMs + (dedupPendingTtlMs - publishTimeoutMs) / 2);
}

export async function createEventLog(s: EventLogSettings): Promise<ConnectableEventLog> {
  const common = {
    brokers: s.brokers,
    clientId: s.clientId,
    replicationFactor: s.replicationFactor,
    stallMs: s.stallMs,
    logger: s.logger,
    ...(s.security ? { security: s.security } : {}),
  };
  const deliveryTimeout = deliveryTimeoutMs(s.publishTimeoutMs, s.dedupPendingTtlMs);
  switch (s.client) {
    case "kafkajs": {
      const { KafkajsEventLog } = await import("./kafkajs-event-log.js");
      return new KafkajsEventLog(common);
    }
    case "confluent": {
      const { ConfluentEventLog } = await import("./confluent-event-log.js");
      return new ConfluentEventLog({ ...common, deliveryTimeoutMs: deliveryTimeout });
    }
    case "platformatic": {
      const { PlatformaticEventLog } = await import("./platformatic-event-log.js");
      return new PlatformaticEventLog({ ...common, deliveryTimeoutMs: deliveryTimeout });
    }
    default:
      throw new WeirError("WEIR_ERR_CONFIG", `WEIR_KAFKA_CLIENT=${s.client} is not one of ${kafkaClients.join(", ")}`);
  }
}
