/**
 * One typed config, validated once at boot and then frozen. Each setting has an environment
 * variable, a kind (string, int, float, bool, list, or json checked by a zod schema kept beside
 * the type it produces), a default that works against `weir stack up`, and a line of
 * documentation (the README's configuration table is checked against this list by
 * test/config.test.ts). The tooling's few settings are a table of their own (config/tool-settings.ts).
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { WeirError } from "./errors.js";
import { DEAD_LETTER_TOPIC } from "./kafka-contract.js";
import { z } from "zod";
import { bool, int, json, list, resolveTable, str, type SettingValue } from "./config/kinds.js";
import { telemetrySettings } from "./config/telemetry-settings.js";

export { defaultText, type Setting } from "./config/kinds.js";
export { resolveToolSettings, toolSettings, type ToolSettings } from "./config/tool-settings.js";

/** WEIR_TENANT_GRANTS: tenant → what it may publish and subscribe to. */
const tenantGrantsSchema = z.record(z.string(), z.strictObject({ publish: z.array(z.string()).default([]), subscribe: z.array(z.string()).default([]) }));

/** WEIR_TENANT_QUOTAS: tenant → its own events/s and bytes/s (0: no limit); others get the defaults. */
const tenantQuotasSchema = z.record(
  z.string(),
  z.strictObject({ eventsPerSec: z.number().int().nonnegative().default(0), bytesPerSec: z.number().int().nonnegative().default(0) }),
);

/** WEIR_JOB_OPTIONS: job name → options (each checked by its job's schema when the job loads). */
const jobOptionsSchema = z.record(z.string(), z.record(z.string(), z.unknown()));

export const settings = {
  host: str({ env: "WEIR_HOST", default: "127.0.0.1", doc: "Address the gateway listens on." }),
  port: int({ env: "WEIR_PORT", default: 8080, min: 0, max: 65535, doc: "Gateway port (0 picks a free one)." }),
  gatewayId: str({
    env: "WEIR_GATEWAY_ID",
    default: "",
    doc: "Name of this gateway process in logs, headers and dead letters (default: host-pid-random). Need not be unique: each process adds a random incarnation (`<id>~<hex>`) that owns its dedup claims, so a restart under the same id never revives a dead process's claims.",
  }),
  kafkaBrokers: list({ env: "WEIR_KAFKA_BROKERS", default: ["127.0.0.1:9092"], doc: "Comma-separated Kafka bootstrap servers." }),
  kafkaClient: str({
    env: "WEIR_KAFKA_CLIENT",
    default: "confluent",
    allowed: ["kafkajs", "confluent", "platformatic"],
    doc: "Kafka client library behind the event log: kafkajs, confluent (@confluentinc/kafka-javascript, librdkafka; optional native package) or platformatic (@platformatic/kafka).",
  }),
  kafkaSecurityProtocol: str({
    env: "WEIR_KAFKA_SECURITY_PROTOCOL",
    default: "plaintext",
    allowed: ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"],
    doc: "How every Kafka client of the gateway and processors reaches the brokers: plaintext, ssl (TLS), sasl_plaintext or sasl_ssl (SASL over TLS).",
  }),
  kafkaSaslMechanism: str({
    env: "WEIR_KAFKA_SASL_MECHANISM",
    default: "scram-sha-512",
    allowed: ["scram-sha-512", "scram-sha-256", "plain"],
    doc: "SASL mechanism with sasl_plaintext and sasl_ssl.",
  }),
  kafkaSaslUsername: str({ env: "WEIR_KAFKA_SASL_USERNAME", default: "", doc: "SASL user (needed with sasl_plaintext and sasl_ssl)." }),
  kafkaSaslPassword: str({ env: "WEIR_KAFKA_SASL_PASSWORD", default: "", doc: "SASL password." }),
  kafkaSslCaFile: str({
    env: "WEIR_KAFKA_SSL_CA_FILE",
    default: "",
    doc: "PEM file of the CA(s) that signed the brokers' certificates, with ssl and sasl_ssl; empty: the system's roots.",
  }),
  kafkaClientId: str({ env: "WEIR_KAFKA_CLIENT_ID", default: "weir-gateway", doc: "Kafka client id." }),
  redisUrl: str({
    env: "WEIR_REDIS_URL",
    default: "redis://127.0.0.1:6379",
    doc: "Redis URL for idempotency keys: `redis://` or, over TLS, `rediss://`; an ACL user and password go in it (`rediss://weir:<password>@host:6380`).",
  }),
  redisTlsCaFile: str({
    env: "WEIR_REDIS_TLS_CA_FILE",
    default: "",
    doc: "PEM file of the CA that signed Redis's certificate, for a `rediss://` URL; empty: the system's roots.",
  }),
  apiKeys: list({
    env: "WEIR_API_KEYS",
    default: ["demo:demo-key"],
    doc: 'Comma-separated API keys allowed to connect: `tenant:sha256:<hex>` (the key\'s SHA-256, e.g. `printf %s "$KEY" | sha256sum`) or, for local use, `tenant:<key>`. Empty: API keys are refused (tokens only).',
  }),
  tenantGrants: json({
    env: "WEIR_TENANT_GRANTS",
    schema: tenantGrantsSchema,
    default: {},
    doc: 'JSON object: per API-key tenant, the event types it may publish and the streams it may subscribe to (patterns: a name, `prefix.*` or `*`), e.g. `{"acme":{"publish":["acme.v1.*"],"subscribe":["results.*"]}}`; a tenant not named may do everything. Token tenants get theirs from the token.',
  }),
  authMaxFailures: int({
    env: "WEIR_AUTH_MAX_FAILURES",
    default: 20,
    min: 1,
    max: 1_000_000,
    doc: "Refused handshakes (bad key or token) one client address may have per WEIR_AUTH_FAILURE_WINDOW_MS; past that its connections are turned away with HTTP 429 until the window ends.",
  }),
  maxPreauthConnections: int({
    env: "WEIR_MAX_PREAUTH_CONNECTIONS",
    default: 64,
    min: 1,
    max: 100_000,
    doc: "Connections that have not completed their Hello, all clients together; past it upgrades get HTTP 503. Each may buffer one frame before its Hello, so this times 2 × WEIR_MAX_FRAME_BYTES bounds the memory unauthenticated clients can pin (512 MiB by default; lower either to tighten it). Clients turned away retry with backoff.",
  }),
  maxPreauthPerIp: int({
    env: "WEIR_MAX_PREAUTH_PER_IP",
    default: 0,
    min: 0,
    max: 100_000,
    doc: "Connections without a completed Hello from one client address (0: no cap); past it upgrades get HTTP 429. Keeps one address from taking every WEIR_MAX_PREAUTH_CONNECTIONS place; off by default because load tools and NATed sites open many connections at once from one address (and behind a proxy that hides client addresses every client shares one).",
  }),
  maxConnectionsPerIp: int({
    env: "WEIR_MAX_CONNECTIONS_PER_IP",
    default: 0,
    min: 0,
    max: 10_000_000,
    doc: "Open WebSocket connections from one client address (0: no cap; see WEIR_MAX_PREAUTH_PER_IP about proxies); past it upgrades get HTTP 429.",
  }),
  maxConnectionsPerTenant: int({
    env: "WEIR_MAX_CONNECTIONS_PER_TENANT",
    default: 1000,
    min: 1,
    max: 10_000_000,
    doc: "Ingest connections one tenant may hold on this gateway; one more is closed after its Hello with 1013 `WEIR_ERR_TOO_MANY_CONNECTIONS` (clients retry later).",
  }),
  maxSubscriptionsPerTenant: int({
    env: "WEIR_MAX_SUBSCRIPTIONS_PER_TENANT",
    default: 100,
    min: 1,
    max: 10_000_000,
    doc: "Subscriber connections one tenant may hold on this gateway; one more is closed after its Hello with 1013 `WEIR_ERR_TOO_MANY_CONNECTIONS`.",
  }),
  authFailureWindowMs: int({ env: "WEIR_AUTH_FAILURE_WINDOW_MS", default: 60_000, min: 1000, max: 3600_000, doc: "The window of WEIR_AUTH_MAX_FAILURES." }),
  jwtJwksUrl: str({
    env: "WEIR_JWT_JWKS_URL",
    default: "",
    doc: "Tokens (JWT) are verified with the keys published here (JWKS; refetched on an unknown key id, so keys can rotate).",
  }),
  jwtJwks: str({ env: "WEIR_JWT_JWKS", default: "", doc: "Tokens are verified with these keys: a JWKS as JSON, inline." }),
  jwtSecret: str({ env: "WEIR_JWT_SECRET", default: "", doc: "Tokens are verified as HS256 with this shared secret (single-party setups, tests)." }),
  jwtIssuer: str({ env: "WEIR_JWT_ISSUER", default: "", doc: "Required `iss` of tokens (empty: not checked)." }),
  jwtAudience: str({ env: "WEIR_JWT_AUDIENCE", default: "", doc: "Required `aud` of tokens (empty: not checked)." }),
  jwtTenantClaim: str({
    env: "WEIR_JWT_TENANT_CLAIM",
    default: "weir_tenant",
    doc: "The token claim naming the tenant (grants: `weir_publish`, `weir_subscribe`).",
  }),
  schemaImage: str({
    env: "WEIR_SCHEMA_IMAGE",
    default: "",
    doc: "Path of a buf image (FileDescriptorSet) with the accepted event types; empty uses the built-in scenario types.",
  }),
  deadLetterTopic: str({ env: "WEIR_DEAD_LETTER_TOPIC", default: DEAD_LETTER_TOPIC, doc: "Topic for refused events, with the reason." }),
  topicReplication: int({ env: "WEIR_TOPIC_REPLICATION", default: 1, min: 1, max: 16, doc: "Replication factor of topics the gateway creates." }),
  connectionCredit: int({
    env: "WEIR_CONNECTION_CREDIT",
    default: 2048,
    min: 1,
    max: 1_000_000,
    doc: "Events one connection may have in flight (its credit window).",
  }),
  maxInFlightEvents: int({
    env: "WEIR_MAX_IN_FLIGHT_EVENTS",
    default: 50_000,
    min: 1,
    max: 10_000_000,
    doc: "Events in flight across all connections; beyond it events get RETRY_AFTER.",
  }),
  maxInFlightBytes: int({
    env: "WEIR_MAX_IN_FLIGHT_BYTES",
    default: 64 * 1024 * 1024,
    min: 1024,
    max: 2 ** 31,
    doc: "Payload bytes in flight across all connections; beyond it events get RETRY_AFTER.",
  }),
  tenantEventsPerSec: int({
    env: "WEIR_TENANT_EVENTS_PER_SEC",
    default: 0,
    min: 0,
    max: 100_000_000,
    doc: "Events per second one tenant may publish through this gateway (0: no limit); past it its batches are answered RETRY_AFTER `WEIR_ERR_QUOTA_EXCEEDED` with the wait, and other tenants are not slowed. Per gateway: with N gateways a tenant gets up to N times this.",
  }),
  tenantBytesPerSec: int({
    env: "WEIR_TENANT_BYTES_PER_SEC",
    default: 0,
    min: 0,
    max: 2 ** 40,
    doc: "Event bytes (payload, attributes, ids) per second one tenant may publish through this gateway (0: no limit), as WEIR_TENANT_EVENTS_PER_SEC.",
  }),
  tenantQuotas: json({
    env: "WEIR_TENANT_QUOTAS",
    schema: tenantQuotasSchema,
    default: {},
    doc: 'JSON object: tenants with quotas of their own, e.g. `{"acme":{"eventsPerSec":5000,"bytesPerSec":10000000}}` (0 or absent: no limit); the rest get WEIR_TENANT_EVENTS_PER_SEC and WEIR_TENANT_BYTES_PER_SEC.',
  }),
  maxBatchEvents: int({ env: "WEIR_MAX_BATCH_EVENTS", default: 1000, min: 1, max: 100_000, doc: "Events in one PublishBatch frame." }),
  maxEventBytes: int({
    env: "WEIR_MAX_EVENT_BYTES",
    default: 256 * 1024,
    min: 16,
    max: 16 * 1024 * 1024,
    doc: "Bytes of one event, the whole envelope (payload, attributes, id, type, keys); larger events get TOO_LARGE.",
  }),
  maxFrameBytes: int({
    env: "WEIR_MAX_FRAME_BYTES",
    default: 4 * 1024 * 1024,
    min: 1024,
    max: 8 * 1024 * 1024,
    doc: "Bytes of one WebSocket message; larger frames close the connection with 1009.",
  }),
  maxSendBufferBytes: int({
    env: "WEIR_MAX_SEND_BUFFER_BYTES",
    default: 1024 * 1024,
    min: 1024,
    max: 256 * 1024 * 1024,
    doc: "Unsent bytes buffered per connection before it is closed as a slow reader.",
  }),
  helloTimeoutMs: int({ env: "WEIR_HELLO_TIMEOUT_MS", default: 10_000, min: 100, max: 600_000, doc: "Time a new connection has to send Hello." }),
  maxFutureSkewMs: int({
    env: "WEIR_MAX_FUTURE_SKEW_MS",
    default: 3600_000,
    min: 0,
    max: 7 * 24 * 3600_000,
    doc: "How far an event_time may be ahead of the gateway's clock.",
  }),
  retryAfterMs: int({ env: "WEIR_RETRY_AFTER_MS", default: 250, min: 1, max: 60_000, doc: "Delay suggested with RETRY_AFTER." }),
  dedupTtlMs: int({
    env: "WEIR_DEDUP_TTL_MS",
    default: 24 * 3600_000,
    min: 1000,
    max: 30 * 24 * 3600_000,
    doc: "How long a published event id is remembered (the idempotency window).",
  }),
  dedupPendingTtlMs: int({
    env: "WEIR_DEDUP_PENDING_TTL_MS",
    default: 120_000,
    min: 1000,
    max: 3600_000,
    doc: "Age after which an unconfirmed claim on an id, even of a live gateway, is verified against Kafka by the next gateway that sees it (published: DUPLICATE; else published again). Must exceed the Kafka publish timeout.",
  }),
  dedupOwnerTtlMs: int({
    env: "WEIR_DEDUP_OWNER_TTL_MS",
    default: 5000,
    min: 500,
    max: 600_000,
    doc: "How long after its last heartbeat a gateway's unconfirmed claims count as orphaned and are verified against Kafka by the next gateway that sees them (each gateway heartbeats every third of it).",
  }),
  dedupVerifyMaxRecords: int({
    env: "WEIR_DEDUP_VERIFY_MAX_RECORDS",
    default: 200_000,
    min: 1,
    max: 100_000_000,
    doc: "Most Kafka records (per topic) the verification of one orphaned claim may scan, from its event time on; an event over it stays RETRY_AFTER without holding back the others.",
  }),
  kafkaPublishTimeoutMs: int({
    env: "WEIR_KAFKA_PUBLISH_TIMEOUT_MS",
    default: 60_000,
    min: 1000,
    max: 600_000,
    doc: "How long the producer keeps retrying one send (it rides out a broker restart) before the events are nacked RETRY_AFTER.",
  }),
  kafkaStallMs: int({
    env: "WEIR_KAFKA_STALL_MS",
    default: 1000,
    min: 10,
    max: 60_000,
    doc: "A send pending longer than this marks Kafka slow: new events get RETRY_AFTER instead of queueing.",
  }),
  redisTimeoutMs: int({ env: "WEIR_REDIS_TIMEOUT_MS", default: 2000, min: 10, max: 60_000, doc: "Timeout of one Redis command." }),
  drainTimeoutMs: int({
    env: "WEIR_DRAIN_TIMEOUT_MS",
    default: 15_000,
    min: 0,
    max: 600_000,
    doc: "On shutdown, how long in-flight events may take before sockets close.",
  }),
  processorJobs: list({
    env: "WEIR_PROCESSOR_JOBS",
    default: ["weir/examples/jobs/error-rate", "weir/examples/jobs/fraud", "weir/examples/jobs/risk-limits"],
    doc: "Job modules the processor runs (files such as `./jobs/page-stats.ts`, relative to the working directory, or package specifiers; each exports `defineJob(...)`), inside the gateway and in `weir processor`; empty runs none. Default: the three scenario jobs shipped in `examples/jobs/`.",
  }),
  ingestProcesses: int({
    env: "WEIR_INGEST_PROCESSES",
    default: 0,
    min: 0,
    max: 256,
    doc: "Processes `weir gateway` runs to serve its port (they share it; the kernel spreads connections over them), each with its own Kafka producer and Redis connection and its share of every per-gateway bound; /metrics and /v1/stats answer for all of them. 0: one per CPU core. The processor jobs run in the first only.",
  }),
  processorInGateway: bool({
    env: "WEIR_PROCESSOR_IN_GATEWAY",
    default: true,
    doc: "Run the processor jobs inside the gateway process (true) or only in separate `weir processor` processes (false).",
  }),
  processorThreads: int({
    env: "WEIR_PROCESSOR_THREADS",
    default: 2,
    min: 1,
    max: 256,
    doc: "Worker threads per job; input partition p runs on thread p % threads.",
  }),
  stateDir: str({
    env: "WEIR_STATE_DIR",
    default: "",
    doc: "Directory where processor tasks keep their state on disk (LMDB; a directory per job group and partition): state larger than memory, and a restart restores from the local copy plus the changelog's tail instead of the whole changelog. One directory per processor process. Empty: state in memory.",
  }),
  remoteRegions: list({
    env: "WEIR_REMOTE_REGIONS",
    default: [],
    doc: "Other regions whose topics MirrorMaker 2 replicates into this region's Kafka as `<region>.<topic>` (e.g. `b`): every job here also reads those regions' events, and drops an event id it has seen from any region (decision 0027). Empty: one region.",
  }),
  crossRegionDedupHours: int({
    env: "WEIR_CROSS_REGION_DEDUP_HOURS",
    default: 24,
    min: 1,
    max: 24 * 30,
    doc: "With WEIR_REMOTE_REGIONS: how long (in event time, behind a task's latest event) a job remembers an event id, so the same event from another region is dropped; a copy arriving later than this counts twice.",
  }),
  processorGroupPrefix: str({
    env: "WEIR_PROCESSOR_GROUP_PREFIX",
    default: "weir-processor",
    doc: "A job's consumer group is `<prefix>-<job>`; its tasks' transactional ids are `<group>-<partition>`.",
  }),
  processorIdleAdvanceMs: int({
    env: "WEIR_PROCESSOR_IDLE_ADVANCE_MS",
    default: 0,
    min: 0,
    max: 3_600_000,
    doc: "0 (each job's own `idle` policy) or, for every job, how long a partition may get no records before its watermark follows the clock (highest event time + idle time − this), so its windows close; later records behind it are late.",
  }),
  processorSourceIdleMs: int({
    env: "WEIR_PROCESSOR_SOURCE_IDLE_MS",
    default: 0,
    min: 0,
    max: 3_600_000,
    doc: "0 (each job's own `idle` policy, else 10 s) or, for every repartitioned job, how long a source partition may get no records before the repartition step marks it idle, so it stops holding the job's event time back; records it gets later behind the others' event time are late.",
  }),
  processorSessionTimeoutMs: int({
    env: "WEIR_PROCESSOR_SESSION_TIMEOUT_MS",
    default: 10_000,
    min: 6000,
    max: 300_000,
    doc: "A processor that stops heartbeating for this long loses its partitions to the others (failover time after a crash).",
  }),
  processorStallMs: int({
    env: "WEIR_PROCESSOR_STALL_MS",
    default: 20_000,
    min: 1000,
    max: 600_000,
    doc: "A processor that owns partitions with records waiting (measured on the broker) and commits nothing for this long, or is missing from its consumer group, restarts its consumers (backoff 1 s doubling to 30 s; after 8 restarts without progress it exits non-zero).",
  }),
  processorStepTimeoutMs: int({
    env: "WEIR_PROCESSOR_STEP_TIMEOUT_MS",
    default: 120_000,
    min: 1000,
    max: 3_600_000,
    doc: "A processing step (one batch's processing and transaction) still running after this makes the processor exit non-zero (a hung transaction or a job stuck in user code); restores get 5× this.",
  }),
  healthIntervalMs: int({
    env: "WEIR_HEALTH_INTERVAL_MS",
    default: 500,
    min: 50,
    max: 60_000,
    doc: "How often gateways and processors check Redis and Kafka for /readyz, with or without traffic.",
  }),
  healthDeadlineMs: int({
    env: "WEIR_HEALTH_DEADLINE_MS",
    default: 1500,
    min: 50,
    max: 60_000,
    doc: "A Redis or Kafka check not answered within this counts as an outage (/readyz 503; one log line when it starts, one when it ends).",
  }),
  jobOptions: json({
    env: "WEIR_JOB_OPTIONS",
    schema: jobOptionsSchema,
    default: {},
    doc: 'JSON object: per job name, that job\'s options, checked by the job\'s own schema at startup (e.g. `{"fraud":{"minPurchases":4},"risk-limits":{"limits":{"default":{"maxLoss":10000}}}}`); a job not named runs with its defaults.',
  }),
  webhookUrl: str({
    env: "WEIR_WEBHOOK_URL",
    default: "",
    doc: "Alerts (fraud, risk breaches) are POSTed here, Slack-style JSON with an Idempotency-Key; empty disables the webhook sink.",
  }),
  subscribeRawTypes: list({
    env: "WEIR_SUBSCRIBE_RAW_TYPES",
    default: ["weir.events.v1.Quote", "weir.events.v1.Trade", "weir.events.v1.HttpAccessLog"],
    doc: "Event types whose raw events tenants may subscribe to (stream `events.<type>`), each tenant to its own.",
  }),
  subscribeConflate: list({
    env: "WEIR_SUBSCRIBE_CONFLATE",
    default: ["events.weir.events.v1.Quote"],
    doc: "Streams where a slow subscriber gets the latest value per key instead of being disconnected (market data).",
  }),
  maxCatchUpReaders: int({
    env: "WEIR_MAX_CATCHUP_READERS",
    default: 32,
    min: 1,
    max: 10_000,
    doc: "Subscribers that start in the past each read the backlog with a Kafka consumer of their own; at most this many run on a gateway at once, and later ones wait (connected, in order) for one to finish.",
  }),
  subscriptionReaderThread: bool({
    env: "WEIR_SUBSCRIPTION_READER_THREAD",
    default: true,
    doc: "Subscriptions' live Kafka reads (fetching and decoding every record of a subscribed topic) run on a thread of their own, off the ingest thread; false keeps them on the main thread.",
  }),
  subscriberMaxPending: int({
    env: "WEIR_SUBSCRIBER_MAX_PENDING",
    default: 10_000,
    min: 1,
    max: 10_000_000,
    doc: "Deliveries (or, conflating, keys) a subscriber may have waiting while its socket is backed up; beyond it the subscriber is closed with 4409.",
  }),
  tlsCertFile: str({
    env: "WEIR_TLS_CERT_FILE",
    default: "",
    doc: "PEM certificate (chain) of the gateway's TLS listener; with WEIR_TLS_KEY_FILE set, the gateway serves wss:// and https:// only (HSTS on). Empty: plain ws:// (put TLS in front of it).",
  }),
  tlsKeyFile: str({ env: "WEIR_TLS_KEY_FILE", default: "", doc: "PEM private key of WEIR_TLS_CERT_FILE." }),
  tlsKeyPassphrase: str({ env: "WEIR_TLS_KEY_PASSPHRASE", default: "", doc: "Passphrase of WEIR_TLS_KEY_FILE, if it is encrypted." }),
  metricsToken: str({
    env: "WEIR_METRICS_TOKEN",
    default: "",
    doc: "When set, GET /metrics needs `Authorization: Bearer <this>` and GET /v1/stats needs it or a tenant's own credentials (a token, or Basic tenant:key), both in `weir gateway` and `weir processor`; empty leaves them open (local use). Set it wherever the port is reachable by others.",
  }),
  allowedOrigins: list({
    env: "WEIR_ALLOWED_ORIGINS",
    default: [],
    doc: "Comma-separated browser origins (e.g. `https://app.example.com`) whose pages may open WebSockets to the gateway, besides its own dashboard; others get HTTP 403. Empty: any origin (credentials still decide who is served).",
  }),
  metricsPort: int({
    env: "WEIR_METRICS_PORT",
    default: 9464,
    min: 0,
    max: 65535,
    doc: "Port of GET /metrics in `weir processor` (0 picks a free one, logged); the gateway serves /metrics on its own port.",
  }),
  ...telemetrySettings,
  logLevel: str({ env: "WEIR_LOG_LEVEL", default: "info", doc: "pino log level (trace, debug, info, warn, error, silent)." }),
} as const;

export type Config = { readonly [K in keyof typeof settings]: SettingValue<(typeof settings)[K]> };
/** Settings given in code (typed values; checked as the environment's are). */
export type ConfigOptions = Partial<Config>;

const logLevels = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

/** Resolve options over environment over defaults, validate, freeze. */
export function resolveConfig(options: ConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const out = resolveTable(settings, options, env);
  if (!out.gatewayId) out.gatewayId = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const config = out as Config;
  if (!logLevels.has(config.logLevel)) throw new WeirError("WEIR_ERR_CONFIG", `WEIR_LOG_LEVEL=${config.logLevel} is not a pino level`);
  if (config.dedupPendingTtlMs <= config.kafkaPublishTimeoutMs) {
    throw new WeirError("WEIR_ERR_CONFIG", "WEIR_DEDUP_PENDING_TTL_MS must exceed WEIR_KAFKA_PUBLISH_TIMEOUT_MS, or a slow publish could be repeated");
  }
  if (config.maxBatchEvents > config.connectionCredit) {
    throw new WeirError("WEIR_ERR_CONFIG", "WEIR_MAX_BATCH_EVENTS must not exceed WEIR_CONNECTION_CREDIT");
  }
  if (config.maxEventBytes > config.maxFrameBytes) {
    throw new WeirError("WEIR_ERR_CONFIG", "WEIR_MAX_EVENT_BYTES must not exceed WEIR_MAX_FRAME_BYTES");
  }
  if (Boolean(config.tlsCertFile) !== Boolean(config.tlsKeyFile)) {
    throw new WeirError("WEIR_ERR_CONFIG", "WEIR_TLS_CERT_FILE and WEIR_TLS_KEY_FILE go together");
  }
  parseApiKeys(config.apiKeys);
  if (config.jwtJwks) {
    try {
      JSON.parse(config.jwtJwks);
    } catch (err) {
      throw new WeirError("WEIR_ERR_CONFIG", `WEIR_JWT_JWKS is not JSON: ${(err as Error).message}`);
    }
  }
  if (config.webhookUrl && !/^https?:\/\//.test(config.webhookUrl))
    throw new WeirError("WEIR_ERR_CONFIG", `WEIR_WEBHOOK_URL must be an http(s) URL, got ${config.webhookUrl}`);
  return Object.freeze(config);
}

/** `tenant:key` (or `tenant:sha256:<hex>`) pairs → tenant → key (or "sha256:<hex>"). */
export function parseApiKeys(pairs: readonly string[]): ReadonlyMap<string, string> {
  const keys = new Map<string, string>();
  for (const pair of pairs) {
    const i = pair.indexOf(":");
    if (i <= 0 || i === pair.length - 1) throw new WeirError("WEIR_ERR_CONFIG", `WEIR_API_KEYS entry "${pair}" is not tenant:key`);
    // "/" separates the tenant from the key in the processor's tenant-qualified keys.
    if (pair.slice(0, i).includes("/")) throw new WeirError("WEIR_ERR_CONFIG", `WEIR_API_KEYS tenant "${pair.slice(0, i)}" must not contain "/"`);
    keys.set(pair.slice(0, i), pair.slice(i + 1));
  }
  return keys;
}
