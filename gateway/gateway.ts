/**
 * Composition root of a gateway process. Start, as lifecycle steps (src/lifecycle.ts), each
 * closed again if a later one fails: tracing → adapters (Redis, Kafka; gateway/adapters.ts) →
 * ingest service and subscription hub → uWS server (gateway/server-options.ts) → the processor
 * jobs, if they run in the gateway. States: starting → ready → draining → stopped.
 *
 * Stop: drain first — stop listening, refuse new events (RETRY_AFTER WEIR_ERR_DRAINING), let
 * in-flight batches finish for up to WEIR_DRAIN_TIMEOUT_MS — then close what was started, newest
 * first: the processor jobs, every socket still open (ingest and subscribe, close 1001, so
 * clients move to another gateway and resume), the subscription readers, Kafka, Redis, tracing.
 */
import { randomBytes } from "node:crypto";
import { WeirError } from "../src/errors.js";
import { resolveConfig, type Config, type ConfigOptions } from "../src/config.js";
import { createLogger, type Logger } from "../src/log.js";
import { Lifecycle } from "../src/lifecycle.js";
import { SchemaRegistry } from "../src/schema/registry.js";
import { assertCompatible } from "../src/schema/compat.js";
import { EventChecker } from "../src/ingest/check-event.js";
import { Admission } from "../src/ingest/admission.js";
import { processShare } from "../src/config/process-share.js";
import { TenantQuotas } from "../src/ingest/tenant-quotas.js";
import { IngestService } from "../src/ingest/ingest-service.js";
import { startProcessors, type RunningProcessors } from "../src/processor/processors.js";
import { configuredJobs } from "../src/processor/jobs.js";
import { SubscriptionHub } from "../src/subscribe/hub.js";
import { streamCatalog } from "../src/subscribe/streams.js";
import { gatewayAuthenticator } from "./authenticator.js";
import { WeirMetrics } from "../src/metrics/prometheus.js";
import { startTracing, tracingSetup } from "../src/tracing/tracing.js";
import { openAdapters, topicsOf } from "./adapters.js";
import { DependencyProbes } from "../src/health/dependency-probes.js";
import { kafkaProbe } from "../src/adapters/kafka/kafka-probe.js";
import { startServer, type RunningServer } from "./server.js";
import { serverOptions, type GroupPages } from "./server-options.js";
import { dashboardFiles } from "./dashboard/files.js";

export type Gateway = {
  readonly config: Config;
  /** This process: the configured gateway id plus a random incarnation (owns its dedup claims). */
  readonly instanceId: string;
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
  /** starting, ready, draining or stopped. */
  readonly state: Lifecycle["state"];
  /** This process's own figures (what /v1/stats shows for a gateway of one process). */
  localStats(): unknown;
  /** Loads another schema image; refused (WEIR_ERR_SCHEMA_INCOMPATIBLE) if it breaks the running one. */
  reloadSchemas(path: string): Promise<void>;
  /** Drains in-flight events (up to drainTimeoutMs), closes every socket, then Kafka and Redis. */
  close(): Promise<void>;
};

export type GatewayOptions = ConfigOptions & {
  logger?: Logger;
  /** The processor jobs in this process cannot go on (default: logged only); `weir gateway` exits non-zero. */
  onFatal?: (err: Error) => void;
  /**
   * This gateway is one of several processes sharing its port (`weir gateway` with
   * WEIR_INGEST_PROCESSES > 1, decision 0022): its bounds are its share of the config's, and its
   * /metrics and /v1/stats answer for the whole group.
   */
  group?: ProcessGroupView;
};

/** What a gateway of a process group needs from the group: its size, and the group's ops pages. */
export type ProcessGroupView = GroupPages & { readonly processes: number };

/** How long one resource may take to close on stop before it is given up and the next one closes. */
const CLOSE_TIMEOUT_MS = 10_000;

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const { logger: givenLogger, onFatal, group, ...configOptions } = options;
  const config = processShare(resolveConfig(configOptions), group?.processes ?? 1);
  const logger = givenLogger ?? createLogger(config.logLevel, { gateway: config.gatewayId });
  const lifecycle = new Lifecycle({ closeTimeoutMs: CLOSE_TIMEOUT_MS, onCloseError: (name, err) => logger.warn({ err }, `closing ${name}`) });
  let registry = config.schemaImage ? SchemaRegistry.fromFile(config.schemaImage) : SchemaRegistry.builtin();
  // Bundled while Kafka and Redis connect.
  const staticFiles = dashboardFiles();
  const startedAt = Date.now();
  // Claims and the dedup heartbeat belong to this process, not to its configured name: a restart
  // that reuses WEIR_GATEWAY_ID must not revive a dead process's claims (decision 0010).
  const instanceId = gatewayInstanceId(config.gatewayId);

  let service!: IngestService;
  let admission!: Admission;
  let metrics!: WeirMetrics;
  let hub!: SubscriptionHub;
  let server!: RunningServer;
  let processors: RunningProcessors | undefined;
  let probes: DependencyProbes | undefined;
  let reloadTopics: (registry: SchemaRegistry) => Promise<void> = async () => {};

  const stats = () => {
    const [p50, p99] = service.latency.percentiles(0.5, 0.99);
    return {
      gatewayId: config.gatewayId,
      instanceId,
      state: lifecycle.state,
      uptimeMs: Date.now() - startedAt,
      nowMs: Date.now(),
      ingest: { ...service.stats, inFlightEvents: admission.inFlightEvents, batchLatencyMs: { p50, p99 } },
      subscribers: hub.subscribers.size,
      // Counts only: a job's latest outputs belong to tenants, and this endpoint has no auth.
      processors: processors?.processors.map((p) => ({ job: p.job, records: p.stats().records, outputs: p.stats().outputs })) ?? [],
    };
  };

  await lifecycle.start(async () => {
    await lifecycle.step(
      "tracing",
      () => startTracing(tracingSetup(config), { serviceName: "weir-gateway" }),
      (tracing) => tracing.shutdown(),
    );
    const adapters = await openAdapters(lifecycle, config, registry, logger, instanceId);
    // Set by the Kafka probe: whether the brokers answered its last check (ingest refuses batches at once while not).
    let kafkaReachable = true;
    probes = await lifecycle
      .step(
        "health checks",
        async () => {
          const kafka = kafkaProbe(config.kafkaBrokers, `${config.kafkaClientId}-health`, config.healthDeadlineMs, adapters.kafkaSecurity);
          const p = new DependencyProbes(
            [
              { name: "redis", check: () => adapters.dedup.ping() },
              {
                name: "kafka",
                check: async () => {
                  if (!adapters.eventLog.healthy) throw new Error("sends are stalled");
                  try {
                    await kafka.check();
                    kafkaReachable = true;
                  } catch (err) {
                    kafkaReachable = false;
                    throw err;
                  }
                },
              },
            ],
            {
              intervalMs: config.healthIntervalMs,
              deadlineMs: config.healthDeadlineMs,
              log: {
                down: (dependency, reason) => logger.error({ dependency, reason }, `${dependency} unreachable`),
                up: (dependency, downForMs) => logger.warn({ dependency, downForMs }, `${dependency} reachable again`),
              },
            },
          );
          await p.start();
          return { probes: p, kafka };
        },
        async ({ probes: p, kafka }) => {
          p.stop();
          await kafka.close();
        },
      )
      .then((r) => r.probes);
    reloadTopics = (next) => adapters.eventLog.ensureTopics(topicsOf(next, config.deadLetterTopic));

    admission = new Admission(config.maxInFlightEvents, config.maxInFlightBytes);
    metrics = gatewayMetrics(
      admission,
      () => server,
      () => hub,
    );
    service = await lifecycle.step(
      "ingest",
      () =>
        new IngestService(
          {
            log: adapters.eventLog,
            dedup: adapters.dedup,
            lookup: adapters.publishedLookup,
            admission,
            quotas: tenantQuotas(config),
            checker: new EventChecker(registry, config.maxEventBytes, config.maxFutureSkewMs),
            onError: (what, err) => logger.warn({ err }, what),
            observer: metrics,
            kafkaReachable: () => kafkaReachable,
          },
          {
            gatewayId: instanceId,
            deadLetterTopic: config.deadLetterTopic,
            retryAfterMs: config.retryAfterMs,
            publishTimeoutMs: config.kafkaPublishTimeoutMs,
            traceSampleRatio: config.traceSampleRatio,
          },
        ),
      (s) => s.close(),
    );
    // The jobs' result streams can be subscribed to whichever process runs the jobs.
    const jobs = (await configuredJobs(config)).map((j) => j.runtime.name);
    hub = await lifecycle.step(
      "subscription readers",
      () =>
        new SubscriptionHub(
          adapters.topicReaders,
          streamCatalog(registry, { jobs, rawTypes: config.subscribeRawTypes, conflate: config.subscribeConflate }),
          logger,
          config.maxCatchUpReaders,
        ),
      (h) => h.close(),
    );
    server = await lifecycle.step(
      "server",
      async () =>
        startServer(
          serverOptions({
            config,
            logger,
            authenticator: gatewayAuthenticator(config),
            publisher: service,
            source: hub,
            metrics,
            staticFiles: await staticFiles,
            readiness: () => ({
              ...probes!.status(),
              ...(processors ? { processors: processors.health().ready } : {}),
              accepting: lifecycle.state === "starting" || lifecycle.state === "ready",
            }),
            stats,
            ...(group ? { group } : {}),
          }),
        ),
      (s) => {
        s.stopListening();
        s.closeAll(new WeirError("WEIR_ERR_SHUTDOWN"));
      },
    );
    logger.info({ url: urlOf(config.host, server.port, config.tlsCertFile !== ""), eventTypes: registry.eventTypes().length }, "gateway listening");
    // After the ingest side is up: the jobs' start (restores, global-table bootstrap) must not
    // keep clients from publishing.
    if (config.processorInGateway && config.processorJobs.length > 0) {
      processors = await lifecycle.step(
        "processor jobs",
        () => startProcessors(config, logger, metrics, onFatal),
        (p) => p.close(),
      );
    }
  });
  logger.info("gateway ready");

  /** Stop listening, refuse new events, and give in-flight batches until the drain timeout. */
  const drain = async () => {
    server.stopListening();
    service.drain();
    const idle = Promise.all([...server.connections].map((c) => c.idle()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([idle, new Promise((resolve) => (timer = setTimeout(resolve, config.drainTimeoutMs)))]);
    clearTimeout(timer);
  };

  return {
    config,
    instanceId,
    port: server.port,
    url: urlOf(config.host, server.port, config.tlsCertFile !== ""),
    service,
    admission,
    server,
    subscriptions: hub,
    metrics,
    logger,
    processors,
    localStats: stats,
    get state() {
      return lifecycle.state;
    },
    async reloadSchemas(path) {
      const next = SchemaRegistry.fromFile(path);
      await assertCompatible(registry, next);
      await reloadTopics(next);
      service.useChecker(new EventChecker(next, config.maxEventBytes, config.maxFutureSkewMs));
      registry = next;
      logger.info({ path, eventTypes: next.eventTypes().length }, "schema image loaded");
    },
    close: async () => {
      await lifecycle.stop(drain);
      logger.info("gateway closed");
    },
  };
}

/** The configured gateway id plus a random incarnation: unique per process by construction. */
export function gatewayInstanceId(gatewayId: string): string {
  return `${gatewayId}~${randomBytes(4).toString("hex")}`;
}

function urlOf(host: string, port: number, tls: boolean): string {
  return `${tls ? "wss" : "ws"}://${host.includes(":") ? `[${host}]` : host}:${port}/v1/ingest`;
}

/** Metrics whose levels are read at scrape time from the live parts. */
function tenantQuotas(config: Config): TenantQuotas {
  return new TenantQuotas({ eventsPerSec: config.tenantEventsPerSec, bytesPerSec: config.tenantBytesPerSec }, new Map(Object.entries(config.tenantQuotas)));
}

function gatewayMetrics(admission: Admission, server: () => RunningServer | undefined, hub: () => SubscriptionHub | undefined): WeirMetrics {
  return new WeirMetrics({
    inFlightEvents: () => admission.inFlightEvents,
    inFlightBytes: () => admission.inFlightBytes,
    outstandingCredit: () => [...(server()?.connections ?? [])].reduce((sum, c) => sum + c.creditLeft, 0),
    connections: () => ({ ingest: server()?.connections.size ?? 0, subscribe: hub()?.subscribers.size ?? 0 }),
    subscribers: () => {
      const out = new Map<string, { count: number; pending: number; maxPending: number }>();
      for (const sub of hub()?.subscribers ?? []) {
        const name = sub.spec?.name ?? "(subscribing)";
        const s = out.get(name) ?? { count: 0, pending: 0, maxPending: 0 };
        out.set(name, { count: s.count + 1, pending: s.pending + sub.pending, maxPending: Math.max(s.maxPending, sub.pending) });
      }
      return out;
    },
  });
}
