/** `weir/schema`: event types as data — load a schema image, or build one of your own .proto files. */
export { SchemaRegistry, type EventType } from "./registry.js";
export { buildSchemaImage, type BuildImageOptions } from "./build-image.js";
