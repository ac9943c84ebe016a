/**
 * The gateway's adapters at the edges, opened as lifecycle steps (each closed again when a later
 * step fails, or on stop): the Kafka event log (the client of WEIR_KAFKA_CLIENT) with the topics
 * of the schema image, the Redis dedup store, the Kafka lookup that verifies stale claims, and the
 * readers subscriptions stream from.
 *
 * Close order (newest first): the event log closes before the dedup store, so the gateway's
 * in-flight publishes settle first; the store then deletes this gateway's heartbeat, and claims it
 * could not confirm are verified by the next gateway at once (decision 0010).
 */
import { Kafka, logLevel as kafkaLogLevel } from "kafkajs";
import type { Config } from "../src/config.js";
import type { Logger } from "../src/log.js";
import type { Lifecycle } from "../src/lifecycle.js";
import type { SchemaRegistry } from "../src/schema/registry.js";
import type { DedupStore, PublishedLookup, TopicSpec } from "../src/ingest/ports.js";
import { createEventLog, type ConnectableEventLog } from "../src/adapters/kafka/create-event-log.js";
import { RedisDedupStore } from "../src/adapters/redis/redis-dedup-store.js";
import { KafkaPublishedLookup } from "../src/adapters/kafka/published-lookup.js";
import { kafkajsTopicReaders } from "../src/adapters/kafka/kafkajs-topic-readers.js";
import { withTailThread } from "../src/adapters/kafka/tail-thread.js";
import { kafkaSecurityOf, kafkajsSecurity, type KafkaSecurity } from "../src/adapters/kafka/kafka-security.js";
import { readConfigFile } from "../src/config/read-file.js";
import type { TopicReaders } from "../src/subscribe/ports.js";

export type GatewayAdapters = {
  readonly eventLog: ConnectableEventLog;
  readonly dedup: DedupStore & { readonly healthy: boolean; ping(): Promise<void> };
  readonly publishedLookup: PublishedLookup;
  readonly topicReaders: TopicReaders;
  /** How every Kafka client of the gateway reaches the brokers (read once from the config). */
  readonly kafkaSecurity: KafkaSecurity;
};

/** The topics the gateway writes for a schema image: one per event type, and the dead-letter topic. */
export function topicsOf(registry: SchemaRegistry, deadLetterTopic: string): TopicSpec[] {
  return [...registry.eventTypes().map((t) => ({ topic: t.topic, partitions: t.partitions })), { topic: deadLetterTopic, partitions: 1 }];
}

const kafkajsClient = (config: Config, role: string, security: KafkaSecurity) =>
  new Kafka({ brokers: [...config.kafkaBrokers], clientId: `${config.kafkaClientId}-${role}`, logLevel: kafkaLogLevel.NOTHING, ...kafkajsSecurity(security) });

/** `instanceId`: this process (gatewayInstanceId), whose heartbeat keeps its dedup claims alive. */
export async function openAdapters(
  lifecycle: Lifecycle,
  config: Config,
  registry: SchemaRegistry,
  logger: Logger,
  instanceId: string,
): Promise<GatewayAdapters> {
  const security = kafkaSecurityOf(config);
  const dedup = await lifecycle.step(
    "redis",
    async () => {
      const store = new RedisDedupStore({
        url: config.redisUrl,
        ...(config.redisTlsCaFile ? { tlsCaPem: readConfigFile("WEIR_REDIS_TLS_CA_FILE", config.redisTlsCaFile) } : {}),
        dedupTtlMs: config.dedupTtlMs,
        pendingTtlMs: config.dedupPendingTtlMs,
        ownerTtlMs: config.dedupOwnerTtlMs,
        gatewayId: instanceId,
        commandTimeoutMs: config.redisTimeoutMs,
        onError: (what, err) => logger.warn({ err }, what),
      });
      // Redis may come up later: until then /readyz says so and events are nacked RETRY_AFTER.
      await store.connect().catch((err: unknown) => logger.warn({ err }, "Redis not reachable yet"));
      return store;
    },
    (store) => store.close(),
  );
  const eventLog = await lifecycle.step(
    "kafka producer",
    async () => {
      const log = await createEventLog({
        client: config.kafkaClient,
        brokers: config.kafkaBrokers,
        clientId: config.kafkaClientId,
        replicationFactor: config.topicReplication,
        stallMs: config.kafkaStallMs,
        publishTimeoutMs: config.kafkaPublishTimeoutMs,
        dedupPendingTtlMs: config.dedupPendingTtlMs,
        logger,
        security,
      });
      try {
        await log.ensureTopics(topicsOf(registry, config.deadLetterTopic));
        await log.connect();
      } catch (err) {
        await log.close().catch(() => {});
        throw err;
      }
      return log;
    },
    (log) => log.close(),
  );
  // Verifies stale dedup claims (their gateway died before confirming) against Kafka (decision 0010).
  // Its timeout bounds the whole lookup (offsets and scan) and so how long the client waits; it
  // does not count towards any claim's age: the batch's fresh claims are published without waiting
  // for it, and a take-over stamps the claim with the Redis time of the compare-and-swap, right
  // before the second publish starts.
  const publishedLookup = new KafkaPublishedLookup(kafkajsClient(config, "lookup", security), {
    maxRecords: config.dedupVerifyMaxRecords,
    timeoutMs: config.kafkaPublishTimeoutMs,
  });
  const readers = kafkajsTopicReaders(kafkajsClient(config, "subscribe", security));
  const topicReaders = config.subscriptionReaderThread
    ? withTailThread(readers, { brokers: config.kafkaBrokers, clientId: `${config.kafkaClientId}-tail`, security }, logger)
    : readers;
  return { eventLog, dedup, publishedLookup, topicReaders, kafkaSecurity: security };
}
