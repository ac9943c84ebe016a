export { IngestClient, ConnectionClosedError, isFinal, type ClientOptions, type CloseInfo } from "./ingest-client.js";
export { envelopeOf, type EnvelopeOptions } from "./envelope.js";
export { ResultCode, type EventResult } from "../gen/weir/v1/protocol_pb.js";
export { subscribe, type SubscribeOptions, type SubscribeStart, type StreamDelivery, type WeirSubscription } from "./subscribe.js";
