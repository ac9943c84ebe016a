/** The browser bundle's entry (npm run build:client → dist/weir-client.js): the portable client and IndexedDB outbox. */
export * from "./portable.js";
export { IndexedDbOutbox } from "./indexeddb-outbox.js";
