/** The package's main entry (`weir`): the gateway, and the library surface of src/index.ts. */
export { startGateway, type Gateway, type GatewayOptions } from "./gateway.js";
export * from "../src/index.js";
