/**
 * Settings of Weir's tooling rather than of a gateway: where the local stack caches what it
 * fetches, how the broker JVM starts, which Deno runs the edge relay, and OpenTelemetry's own
 * diagnostics. Read through the same kinds as the gateway's settings (and documented beside them
 * in the README), but in a table of their own: they are read where the tool runs, not once at a
 * gateway's boot, and are no options of `startGateway()`.
 */
import { bool, resolveTable, str, type SettingValue } from "./kinds.js";

export const toolSettings = {
  cacheDir: str({
    env: "WEIR_CACHE_DIR",
    default: "",
    doc: "Where `weir stack` caches the Kafka jars, the broker's class-data archive and the Jaeger binary, outside the repo; empty: `~/.cache/weir`.",
  }),
  kafkaCds: bool({
    env: "WEIR_KAFKA_CDS",
    default: true,
    doc: "Start the local Kafka broker with a class-data-sharing archive (about twice as fast a start); `0` or `false` turns it off.",
  }),
  deno: str({
    env: "WEIR_DENO",
    default: "",
    doc: "Deno binary for the edge relay and the client's Deno tests; empty: the `deno` npm package's, else `deno` on the PATH.",
  }),
  denoDir: str({
    env: "WEIR_DENO_DIR",
    default: "",
    doc: "Deno's cache directory (V8 code caches only: nothing is downloaded); empty: `<os tmpdir>/weir-deno-dir`.",
  }),
  otelDebug: bool({ env: "WEIR_OTEL_DEBUG", default: false, doc: "Log OpenTelemetry's own diagnostics (exporter errors, dropped spans) to the console." }),
  gatewayUrl: str({
    env: "WEIR_GATEWAY_URL",
    default: "ws://127.0.0.1:8080",
    doc: "The gateway `weir send` and `weir tail` talk to (`/v1/ingest` and `/v1/subscribe` are added); `--url` overrides it.",
  }),
  tenant: str({ env: "WEIR_TENANT", default: "demo", doc: "The tenant `weir send` and `weir tail` sign in as; `--tenant` overrides it." }),
  apiKey: str({ env: "WEIR_API_KEY", default: "demo-key", doc: "The API key `weir send` and `weir tail` sign in with; `--api-key` overrides it." }),
} as const;

export type ToolSettings = { readonly [K in keyof typeof toolSettings]: SettingValue<(typeof toolSettings)[K]> };

/** The tooling's settings from the environment (read when needed: tests and scripts may set them late). */
export function resolveToolSettings(env: NodeJS.ProcessEnv = process.env): ToolSettings {
  return Object.freeze(resolveTable(toolSettings, {}, env)) as ToolSettings;
}
