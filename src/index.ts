/** Weir's library surface: config, errors, the schema registry and the Kafka contract (the package's main entry, gateway/index.ts, adds the gateway). */
export { resolveConfig, settings, type Config, type ConfigOptions } from "./config.js";
export { WeirError, errorSpecs, isWeirError, type ErrorCode } from "./errors.js";
export { SchemaRegistry, type EventType } from "./schema/registry.js";
export * as kafkaContract from "./kafka-contract.js";
export { PROTOCOL_VERSION } from "./protocol/version.js";
