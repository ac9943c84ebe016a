/**
 * One typed config, validated once at boot and then frozen. Each setting has an environment
 * variable, a default that works against `weir stack up`, and a line of documentation
 * (the README's configuration table is checked against this list by test/config.test.ts).
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { WeirError } from "./errors.js";

type Kind = "string" | "int" | "list";
type Setting<K extends Kind> = { env: string; kind: K; default: SettingValue<K>; doc: string; min?: number; max?: number; allowed?: readonly string[] };
type SettingValue<K extends Kind> = K extends "int" ? number : K extends "list" ? readonly string[] : string;

const s = <K extends Kind>(setting: Setting<K>) => setting;

export const settings = {
  host: s({ env: "WEIR_HOST", kind: "string", default: "127.0.0.1", doc: "Address the gateway listens on." }),
  port: s({ env: "WEIR_PORT", kind: "int", default: 8080, min: 0, max: 65535, doc: "Gateway port (0 picks a free one)." }),
  gatewayId: s({ env: "WEIR_GATEWAY_ID", kind: "string", default: "", doc: "Name of this gateway process in logs, headers and dead letters (default: host-pid-random)." }),
  kafkaBrokers: s({ env: "WEIR_KAFKA_BROKERS", kind: "list", default: ["127.0.0.1:9092"], doc: "Comma-separated Kafka bootstrap servers." }),
  kafkaClient: s({ env: "WEIR_KAFKA_CLIENT", kind: "string", default: "confluent", allowed: ["kafkajs", "confluent", "platformatic"], doc: "Kafka client library behind the event log: kafkajs, confluent (@confluentinc/kafka-javascript, librdkafka; optional native package) or platformatic (@platformatic/kafka)." }),
  kafkaClientId: s({ env: "WEIR_KAFKA_CLIENT_ID", kind: "string", default: "weir-gateway", doc: "Kafka client id." }),
  redisUrl: s({ env: "WEIR_REDIS_URL", kind: "string", default: "redis://127.0.0.1:6379", doc: "Redis URL for idempotency keys." }),
  apiKeys: s({ env: "WEIR_API_KEYS", kind: "list", default: ["demo:demo-key"], doc: "Comma-separated `tenant:key` pairs allowed to connect." }),
  schemaImage: s({ env: "WEIR_SCHEMA_IMAGE", kind: "string", default: "", doc: "Path of a buf image (FileDescriptorSet) with the accepted event types; empty uses the built-in scenario types." }),
  deadLetterTopic: s({ env: "WEIR_DEAD_LETTER_TOPIC", kind: "string", default: "weir.dead-letter", doc: "Topic for refused events, with the reason." }),
  topicReplication: s({ env: "WEIR_TOPIC_REPLICATION", kind: "int", default: 1, min: 1, max: 16, doc: "Replication factor of topics the gateway creates." }),
  connectionCredit: s({ env: "WEIR_CONNECTION_CREDIT", kind: "int", default: 2048, min: 1, max: 1_000_000, doc: "Events one connection may have in flight (its credit window)." }),
  maxInFlightEvents: s({ env: "WEIR_MAX_IN_FLIGHT_EVENTS", kind: "int", default: 50_000, min: 1, max: 10_000_000, doc: "Events in flight across all connections; beyond it events get RETRY_AFTER." }),
  maxInFlightBytes: s({ env: "WEIR_MAX_IN_FLIGHT_BYTES", kind: "int", default: 64 * 1024 * 1024, min: 1024, max: 2 ** 31, doc: "Payload bytes in flight across all connections; beyond it events get RETRY_AFTER." }),
  maxBatchEvents: s({ env: "WEIR_MAX_BATCH_EVENTS", kind: "int", default: 1000, min: 1, max: 100_000, doc: "Events in one PublishBatch frame." }),
  maxEventBytes: s({ env: "WEIR_MAX_EVENT_BYTES", kind: "int", default: 256 * 1024, min: 16, max: 16 * 1024 * 1024, doc: "Payload bytes of one event; larger events get TOO_LARGE." }),
  maxFrameBytes: s({ env: "WEIR_MAX_FRAME_BYTES", kind: "int", default: 4 * 1024 * 1024, min: 1024, max: 8 * 1024 * 1024, doc: "Bytes of one WebSocket message; larger frames close the connection with 1009." }),
  maxSendBufferBytes: s({ env: "WEIR_MAX_SEND_BUFFER_BYTES", kind: "int", default: 1024 * 1024, min: 1024, max: 256 * 1024 * 1024, doc: "Unsent bytes buffered per connection before it is closed as a slow reader." }),
  helloTimeoutMs: s({ env: "WEIR_HELLO_TIMEOUT_MS", kind: "int", default: 10_000, min: 100, max: 600_000, doc: "Time a new connection has to send Hello." }),
  maxFutureSkewMs: s({ env: "WEIR_MAX_FUTURE_SKEW_MS", kind: "int", default: 3600_000, min: 0, max: 7 * 24 * 3600_000, doc: "How far an event_time may be ahead of the gateway's clock." }),
  retryAfterMs: s({ env: "WEIR_RETRY_AFTER_MS", kind: "int", default: 250, min: 1, max: 60_000, doc: "Delay suggested with RETRY_AFTER." }),
  dedupTtlMs: s({ env: "WEIR_DEDUP_TTL_MS", kind: "int", default: 24 * 3600_000, min: 1000, max: 30 * 24 * 3600_000, doc: "How long a published event id is remembered (the idempotency window)." }),
  dedupPendingTtlMs: s({ env: "WEIR_DEDUP_PENDING_TTL_MS", kind: "int", default: 120_000, min: 1000, max: 3600_000, doc: "Age after which an unconfirmed claim on an id, even of a live gateway, is verified against Kafka by the next gateway that sees it (published: DUPLICATE; else published again). Must exceed the Kafka publish timeout." }),
  dedupOwnerTtlMs: s({ env: "WEIR_DEDUP_OWNER_TTL_MS", kind: "int", default: 5000, min: 500, max: 600_000, doc: "How long after its last heartbeat a gateway's unconfirmed claims count as orphaned and are verified against Kafka by the next gateway that sees them (each gateway heartbeats every third of it)." }),
  dedupVerifyMaxRecords: s({ env: "WEIR_DEDUP_VERIFY_MAX_RECORDS", kind: "int", default: 200_000, min: 1, max: 100_000_000, doc: "Most Kafka records (per topic) the verification of one orphaned claim may scan, from its event time on; an event over it stays RETRY_AFTER without holding back the others." }),
  kafkaPublishTimeoutMs: s({ env: "WEIR_KAFKA_PUBLISH_TIMEOUT_MS", kind: "int", default: 60_000, min: 1000, max: 600_000, doc: "How long the producer keeps retrying one send (it rides out a broker restart) before the events are nacked RETRY_AFTER." }),
  kafkaStallMs: s({ env: "WEIR_KAFKA_STALL_MS", kind: "int", default: 1000, min: 10, max: 60_000, doc: "A send pending longer than this marks Kafka slow: new events get RETRY_AFTER instead of queueing." }),
  redisTimeoutMs: s({ env: "WEIR_REDIS_TIMEOUT_MS", kind: "int", default: 2000, min: 10, max: 60_000, doc: "Timeout of one Redis command." }),
  drainTimeoutMs: s({ env: "WEIR_DRAIN_TIMEOUT_MS", kind: "int", default: 15_000, min: 0, max: 600_000, doc: "On shutdown, how long in-flight events may take before sockets close." }),
  processorJobs: s({ env: "WEIR_PROCESSOR_JOBS", kind: "list", default: ["error-rate", "fraud", "risk-limits"], doc: "Jobs the processor runs (error-rate, fraud, risk-limits), inside the gateway and in `weir processor`; empty runs none." }),
  processorInGateway: s({ env: "WEIR_PROCESSOR_IN_GATEWAY", kind: "string", default: "true", allowed: ["true", "false"], doc: "Run the processor jobs inside the gateway process (true) or only in separate `weir processor` processes (false)." }),
  processorThreads: s({ env: "WEIR_PROCESSOR_THREADS", kind: "int", default: 2, min: 1, max: 256, doc: "Worker threads per job; input partition p runs on thread p % threads." }),
  processorGroupPrefix: s({ env: "WEIR_PROCESSOR_GROUP_PREFIX", kind: "string", default: "weir-processor", doc: "A job's consumer group is `<prefix>-<job>`; its tasks' transactional ids are `<group>-<partition>`." }),
  processorIdleAdvanceMs: s({ env: "WEIR_PROCESSOR_IDLE_ADVANCE_MS", kind: "int", default: 0, min: 0, max: 3_600_000, doc: "0 (off) or how long a partition may get no records before its watermark follows the clock (highest event time + idle time − this), so its windows close; later records behind it are late." }),
  processorSessionTimeoutMs: s({ env: "WEIR_PROCESSOR_SESSION_TIMEOUT_MS", kind: "int", default: 10_000, min: 6000, max: 300_000, doc: "A processor that stops heartbeating for this long loses its partitions to the others (failover time after a crash)." }),
  fraudRule: s({ env: "WEIR_FRAUD_RULE", kind: "string", default: "{}", doc: "JSON FraudRuleOptions: `minPurchases` (3), `amountThresholdMinor` (100000), `withinMinutes` (10), `knownLocationsPerCard` (20)." }),
  riskLimits: s({ env: "WEIR_RISK_LIMITS", kind: "string", default: '{"default":{"maxGrossExposure":1000000,"maxLoss":25000}}', doc: "JSON LimitsConfig: `default` and per-`accounts` limits (`maxGrossExposure`, `maxSectorNetExposure`, `maxSectorNetExposureBySector`, `maxVar`, `maxLoss`), in the reporting currency (USD)." }),
  webhookUrl: s({ env: "WEIR_WEBHOOK_URL", kind: "string", default: "", doc: "Alerts (fraud, risk breaches) are POSTed here, Slack-style JSON with an Idempotency-Key; empty disables the webhook sink." }),
  subscribeRawTypes: s({ env: "WEIR_SUBSCRIBE_RAW_TYPES", kind: "list", default: ["weir.events.v1.Quote", "weir.events.v1.Trade", "weir.events.v1.HttpAccessLog"], doc: "Event types whose raw events tenants may subscribe to (stream `events.<type>`), each tenant to its own." }),
  subscribeConflate: s({ env: "WEIR_SUBSCRIBE_CONFLATE", kind: "list", default: ["events.weir.events.v1.Quote"], doc: "Streams where a slow subscriber gets the latest value per key instead of being disconnected (market data)." }),
  subscriberMaxPending: s({ env: "WEIR_SUBSCRIBER_MAX_PENDING", kind: "int", default: 10_000, min: 1, max: 10_000_000, doc: "Deliveries (or, conflating, keys) a subscriber may have waiting while its socket is backed up; beyond it the subscriber is closed with 4409." }),
  metricsPort: s({ env: "WEIR_METRICS_PORT", kind: "int", default: 9464, min: 0, max: 65535, doc: "Port of GET /metrics in `weir processor` (0 picks a free one, logged); the gateway serves /metrics on its own port." }),
  otlpEndpoint: s({ env: "WEIR_OTLP_ENDPOINT", kind: "string", default: "", doc: "OpenTelemetry traces go here over OTLP/HTTP (e.g. `http://127.0.0.1:4318`, Jaeger); empty turns tracing off." }),
  traceSampleRatio: s({ env: "WEIR_TRACE_SAMPLE_RATIO", kind: "string", default: "0.01", doc: "Share (0..1) of traces Weir starts itself; an event whose envelope carries a sampled traceparent is always traced." }),
  logLevel: s({ env: "WEIR_LOG_LEVEL", kind: "string", default: "info", doc: "pino log level (trace, debug, info, warn, error, silent)." }),
} as const;

export type Config = { readonly [K in keyof typeof settings]: SettingValue<(typeof settings)[K]["kind"]> };
export type ConfigOptions = Partial<Config>;

const logLevels = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

function parse(key: string, setting: Setting<Kind>, raw: string): unknown {
  if (setting.kind === "int") {
    if (!/^-?\d+$/.test(raw.trim())) throw new WeirError("WEIR_ERR_CONFIG", `${setting.env}=${raw} is not an integer`);
    return Number(raw);
  }
  if (setting.kind === "list") return raw.split(",").map((v) => v.trim()).filter(Boolean);
  return raw;
}

/** Resolve options over environment over defaults, validate, freeze. */
export function resolveConfig(options: ConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings) as Array<[string, Setting<Kind>]>) {
    const fromOptions = (options as Record<string, unknown>)[key];
    const fromEnv = env[setting.env];
    const value = fromOptions !== undefined ? fromOptions : fromEnv !== undefined ? parse(key, setting, fromEnv) : setting.default;
    check(key, setting, value);
    out[key] = Array.isArray(value) ? Object.freeze([...value]) : value;
  }
  for (const key of Object.keys(options)) {
    if (!(key in settings)) throw new WeirError("WEIR_ERR_CONFIG", `unknown option ${key}`);
  }
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
  parseApiKeys(config.apiKeys);
  for (const key of ["fraudRule", "riskLimits"] as const) jsonObject(key, config[key]);
  const ratio = Number(config.traceSampleRatio);
  if (config.traceSampleRatio.trim() === "" || !(ratio >= 0 && ratio <= 1)) throw new WeirError("WEIR_ERR_CONFIG", `WEIR_TRACE_SAMPLE_RATIO must be a number from 0 to 1, got ${config.traceSampleRatio}`);
  if (config.webhookUrl && !/^https?:\/\//.test(config.webhookUrl)) throw new WeirError("WEIR_ERR_CONFIG", `WEIR_WEBHOOK_URL must be an http(s) URL, got ${config.webhookUrl}`);
  return Object.freeze(config);
}

function check(key: string, setting: Setting<Kind>, value: unknown): void {
  const bad = (why: string) => new WeirError("WEIR_ERR_CONFIG", `${key} (${setting.env}) ${why}`);
  if (setting.kind === "int") {
    if (typeof value !== "number" || !Number.isInteger(value)) throw bad("must be an integer");
    if (setting.min !== undefined && value < setting.min) throw bad(`must be >= ${setting.min}`);
    if (setting.max !== undefined && value > setting.max) throw bad(`must be <= ${setting.max}`);
  } else if (setting.kind === "list") {
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw bad("must be a list of strings");
  } else if (typeof value !== "string") {
    throw bad("must be a string");
  } else if (setting.allowed && !setting.allowed.includes(value)) {
    throw bad(`must be one of ${setting.allowed.join(", ")} (got "${value}")`);
  }
}

/** A JSON-object setting, parsed (the job that uses it checks its fields). */
export function jsonObject(key: keyof typeof settings, raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new WeirError("WEIR_ERR_CONFIG", `${settings[key].env} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new WeirError("WEIR_ERR_CONFIG", `${settings[key].env} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** `tenant:key` pairs → tenant → key. */
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
