/** Weir's public surface: the gateway, config, errors and the schema registry. */
export { startGateway, type Gateway, type GatewayOptions } from "../gateway/gateway.js";
export { resolveConfig, settings, type Config, type ConfigOptions } from "./config.js";
export { WeirError, errorSpecs, isWeirError, type ErrorCode } from "./errors.js";
export { SchemaRegistry, type EventType } from "./schema/registry.js";
