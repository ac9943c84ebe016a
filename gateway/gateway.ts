/**
 * Composition root of a gateway process: config → adapters (Kafka, Redis) → ingest service →
 * uWS server, and the reverse on close. Lifecycle: starting → ready → draining → closed.
 */
import { WeirError } from "../src/errors.js";
import { resolveConfig, parseApiKeys, type Config, type ConfigOptions } from "../src/config.js";
import { createLogger, type Logger } from "../src/log.js";
import { SchemaRegistry } from "../src/schema/registry.js";
import { assertCompatible } from "../src/schema/compat.js";
import { EventChecker } from "../src/ingest/check-event.js";
import { Admission } from "../src/ingest/admission.js";
import { IngestService } from "../src/ingest/ingest-service.js";
import type { TopicSpec } from "../src/ingest/ports.js";
import { createEventLog } from "../src/adapters/kafka/create-event-log.js";
import { RedisDedupStore } from "../src/adapters/redis/redis-dedup-store.js";
import { KafkaPublishedLookup } from "../src/adapters/kafka/published-lookup.js";
import { startProcessors, type RunningProcessors } from "../src/processor/processors.js";
import { startServer, type RunningServer } from "./server.js";
import { dashboardFiles } from "./dashboard/files.js";
import { SubscriptionHub } from "../src/subscribe/hub.js";
import { apiKeyAuthenticator } from "../src/protocol/api-key-authenticator.js";
import { kafkajsTopicReaders } from "../src/adapters/kafka/kafkajs-topic-readers.js";
import { WeirMetrics } from "../src/metrics/prometheus.js";
import { startTracing } from "../src/tracing/tracing.js";
import { streamCatalog } from "../src/subscribe/streams.js";
import { jobNames } from "../src/processor/jobs.js";
import { Kafka, logLevel as kafkaLogLevel } from "kafkajs";

export type Gateway = {
  readonly config: Config;
  readonly port: number;
  /** ws://host:port/v1/ingest */
  readonly url: string;
  readonly service: IngestService;
  readonly admission: Admission;
  readonly server: RunningServer;
  readonly subscriptions: SubscriptionHub;
  readonly metrics: WeirMetrics;
  readonly logger: Logger;
  /** The processor jobs running in this process (WEIR_PROCESSOR_IN_GATEWAY), if any. */
  readonly processors: RunningProcessors | undefined;
  /** Loads another schema image; refused (WEIR_ERR_SCHEMA_INCOMPATIBLE) if it breaks the running one. */
  reloadSchemas(path: string): Promise<void>;
  /** Drains in-flight events (up to drainTimeoutMs), closes sockets, then Kafka and Redis. */
  close(): Promise<void>;
};

export type GatewayOptions = ConfigOptions & { logger?: Logger };

function topicsOf(registry: SchemaRegistry, deadLetterTopic: string): TopicSpec[] {
  return [
    ...registry.eventTypes().map((t) => ({ topic: t.topic, partitions: t.partitions })),
    { topic: deadLetterTopic, partitions: 1 },
  ];
}

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const { logger: givenLogger, ...configOptions } = options;
  const config = resolveConfig(configOptions);
  const logger = givenLogger ?? createLogger(config.logLevel, { gateway: config.gatewayId });
  const tracing = await startTracing({ endpoint: config.otlpEndpoint, serviceName: "weir-gateway" });
  let registry = config.schemaImage ? SchemaRegistry.fromFile(config.schemaImage) : SchemaRegistry.builtin();

  const eventLog = await createEventLog({
    client: config.kafkaClient,
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    replicationFactor: config.topicReplication,
    stallMs: config.kafkaStallMs,
    publishTimeoutMs: config.kafkaPublishTimeoutMs,
    dedupPendingTtlMs: config.dedupPendingTtlMs,
    logger,
  });
  const dedup = new RedisDedupStore({
    url: config.redisUrl,
    dedupTtlMs: config.dedupTtlMs,
    pendingTtlMs: config.dedupPendingTtlMs,
    ownerTtlMs: config.dedupOwnerTtlMs,
    gatewayId: config.gatewayId,
    commandTimeoutMs: config.redisTimeoutMs,
    onError: (what, err) => logger.warn({ err }, what),
  });
  // Verifies stale dedup claims (their gateway died before confirming) against Kafka (decision 0010).
  // Its timeout bounds the whole lookup (offsets and scan) and so how long the client waits; it
  // does not count towards any claim's age: the batch's fresh claims are published without waiting
  // for it, and a take-over stamps the claim with the Redis time of the compare-and-swap, right
  // before the second publish starts.
  const publishedLookup = new KafkaPublishedLookup(
    new Kafka({ brokers: [...config.kafkaBrokers], clientId: `${config.kafkaClientId}-lookup`, logLevel: kafkaLogLevel.NOTHING }),
    { maxRecords: config.dedupVerifyMaxRecords, timeoutMs: config.kafkaPublishTimeoutMs },
  );
  await eventLog.ensureTopics(topicsOf(registry, config.deadLetterTopic));
  await eventLog.connect();
  // Redis may come up later: until then /readyz says so and events are nacked RETRY_AFTER.
  await dedup.connect().catch((err: unknown) => logger.warn({ err }, "Redis not reachable yet"));

  const admission = new Admission(config.maxInFlightEvents, config.maxInFlightBytes);
  // Levels are read at scrape time from the live objects (declared below).
  const metrics = new WeirMetrics({
    inFlightEvents: () => admission.inFlightEvents,
    inFlightBytes: () => admission.inFlightBytes,
    outstandingCredit: () => [...server.connections].reduce((sum, c) => sum + c.creditLeft, 0),
    connections: () => ({ ingest: server.connections.size, subscribe: hub.subscribers.size }),
    subscribers: () => {
      const out = new Map<string, { count: number; pending: number; maxPending: number }>();
      for (const sub of hub.subscribers) {
        const name = sub.spec?.name ?? "(subscribing)";
        const s = out.get(name) ?? { count: 0, pending: 0, maxPending: 0 };
        out.set(name, { count: s.count + 1, pending: s.pending + sub.pending, maxPending: Math.max(s.maxPending, sub.pending) });
      }
      return out;
    },
  });
  const service = new IngestService(
    {
      log: eventLog,
      dedup,
      lookup: publishedLookup,
      admission,
      checker: new EventChecker(registry, config.maxEventBytes, config.maxFutureSkewMs),
      onError: (what, err) => logger.warn({ err }, what),
      observer: metrics,
    },
    {
      gatewayId: config.gatewayId,
      deadLetterTopic: config.deadLetterTopic,
      retryAfterMs: config.retryAfterMs,
      publishTimeoutMs: config.kafkaPublishTimeoutMs,
      traceSampleRatio: config.traceSampleRatio,
    },
  );

  const authenticator = apiKeyAuthenticator(parseApiKeys(config.apiKeys));
  const hub = new SubscriptionHub(
    kafkajsTopicReaders(new Kafka({ brokers: [...config.kafkaBrokers], clientId: `${config.kafkaClientId}-subscribe`, logLevel: kafkaLogLevel.NOTHING })),
    streamCatalog(registry, { jobs: jobNames(), rawTypes: config.subscribeRawTypes, conflate: config.subscribeConflate }),
    logger,
  );

  let draining = false;
  const startedAt = Date.now();
  const server = await startServer({
    staticFiles: await dashboardFiles(),
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
    stats: () => {
      const [p50, p99] = service.latency.percentiles(0.5, 0.99);
      return {
        gatewayId: config.gatewayId,
        uptimeMs: Date.now() - startedAt,
        nowMs: Date.now(),
        ingest: { ...service.stats, inFlightEvents: admission.inFlightEvents, batchLatencyMs: { p50, p99 } },
        subscribers: hub.subscribers.size,
        // Counts only: a job's latest outputs belong to tenants, and this endpoint has no auth.
        processors: processors?.processors.map((p) => ({ job: p.job, records: p.stats().records, outputs: p.stats().outputs })) ?? [],
      };
    },
    host: config.host,
    port: config.port,
    maxFrameBytes: config.maxFrameBytes,
    maxSendBufferBytes: config.maxSendBufferBytes,
    logger,
    readiness: () => {
      const checks = { kafka: eventLog.healthy, redis: dedup.healthy, accepting: !draining };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
    subscription: {
      authenticator,
      source: hub,
      log: logger,
      onDelivered: (stream, seconds) => metrics.observeDelivery(stream, seconds),
      limits: { helloTimeoutMs: config.helloTimeoutMs, maxSendBufferBytes: config.maxSendBufferBytes, maxPending: config.subscriberMaxPending },
    },
    connection: {
      publisher: service,
      authenticator,
      serverId: config.gatewayId,
      log: logger,
      onPublisherError: (err, session) => logger.error({ err, session }, "publish failed unexpectedly"),
      limits: {
        connectionCredit: config.connectionCredit,
        maxBatchEvents: config.maxBatchEvents,
        maxEventBytes: config.maxEventBytes,
        maxFrameBytes: config.maxFrameBytes,
        maxSendBufferBytes: config.maxSendBufferBytes,
        helloTimeoutMs: config.helloTimeoutMs,
      },
    },
  });
  const url = `ws://${config.host.includes(":") ? `[${config.host}]` : config.host}:${server.port}/v1/ingest`;
  logger.info({ url, eventTypes: registry.eventTypes().length }, "gateway ready");
  // After the ingest side is up: the jobs' start (restores, global-table bootstrap) must not
  // keep clients from publishing.
  let processors: RunningProcessors | undefined;
  if (config.processorInGateway && config.processorJobs.length > 0) {
    try {
      processors = await startProcessors(config, logger, metrics);
    } catch (err) {
      server.stopListening();
      await eventLog.close().catch(() => {});
      await dedup.close();
      throw err;
    }
  }

  let closing: Promise<void> | undefined;
  const close = async () => {
    draining = true;
    server.stopListening();
    service.drain();
    const idle = Promise.all([...server.connections].map((c) => c.idle()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([idle, new Promise((r) => (timer = setTimeout(r, config.drainTimeoutMs)))]);
    clearTimeout(timer);
    for (const conn of [...server.connections]) conn.fail(new WeirError("WEIR_ERR_SHUTDOWN"));
    await hub.close().catch((err: unknown) => logger.warn({ err }, "closing subscriptions"));
    await processors?.close().catch((err: unknown) => logger.warn({ err }, "closing processor jobs"));
    await eventLog.close().catch((err: unknown) => logger.warn({ err }, "closing Kafka producer"));
    // After Kafka settled the in-flight publishes: deletes this gateway's heartbeat, so claims it
    // could not confirm are verified by the next gateway at once.
    await dedup.close();
    await tracing.shutdown();
    logger.info("gateway closed");
  };

  return {
    config,
    port: server.port,
    url,
    service,
    admission,
    server,
    subscriptions: hub,
    metrics,
    logger,
    processors,
    async reloadSchemas(path) {
      const next = SchemaRegistry.fromFile(path);
      await assertCompatible(registry, next);
      await eventLog.ensureTopics(topicsOf(next, config.deadLetterTopic));
      service.useChecker(new EventChecker(next, config.maxEventBytes, config.maxFutureSkewMs));
      registry = next;
      logger.info({ path, eventTypes: next.eventTypes().length }, "schema image loaded");
    },
    close: () => (closing ??= close()),
  };
}
