/** The built-in scenario event types (generated from proto/weir/events/v1). */
export * from "./gen/weir/events/v1/access_log_pb.js";
export * from "./gen/weir/events/v1/card_pb.js";
export * from "./gen/weir/events/v1/market_pb.js";
export * from "./gen/weir/events/v1/reference_pb.js";
