/**
 * The wire protocol's version: what a client puts in Hello and what every server (gateway ingest,
 * gateway subscribe, edge relay) accepts. One definition, imported by clients and servers alike;
 * it has no dependencies so the browser bundle and k6 can take it as is.
 */
export const PROTOCOL_VERSION = 1;

/** How long a new connection has to send Hello, unless the server is configured otherwise. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
