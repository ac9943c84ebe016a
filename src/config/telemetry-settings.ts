/**
 * Tracing settings: OpenTelemetry's standard environment (decision 0028), Weir's alias of its
 * endpoint, and the share of traces Weir starts itself. Part of the one config table (src/config.ts).
 */
import { bool, float, str } from "./kinds.js";

export const telemetrySettings = {
  otlpEndpoint: str({
    env: "WEIR_OTLP_ENDPOINT",
    default: "",
    doc: "Alias of OTEL_EXPORTER_OTLP_ENDPOINT (used when that is unset): traces go to `<endpoint>/v1/traces` over OTLP/HTTP (e.g. `http://127.0.0.1:4318`, Jaeger). No endpoint: tracing off.",
  }),
  otelEndpoint: str({
    env: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: "",
    doc: "OpenTelemetry's standard OTLP endpoint: traces go to `<endpoint>/v1/traces` over OTLP/HTTP.",
  }),
  otelTracesEndpoint: str({
    env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    default: "",
    doc: "OpenTelemetry's standard traces URL (used as is, e.g. `http://collector:4318/v1/traces`); wins over the endpoint.",
  }),
  otelServiceName: str({
    env: "OTEL_SERVICE_NAME",
    default: "",
    doc: "The traces' service name; empty: weir-gateway, weir-processor and weir-engine (worker threads). OTEL_RESOURCE_ATTRIBUTES adds resource attributes.",
  }),
  otelSdkDisabled: bool({
    env: "OTEL_SDK_DISABLED",
    default: false,
    doc: "true: no OpenTelemetry SDK is loaded, whatever the endpoints say.",
  }),
  traceSampleRatio: float({
    env: "WEIR_TRACE_SAMPLE_RATIO",
    default: 0.01,
    min: 0,
    max: 1,
    doc: "Share (0..1) of traces Weir starts itself; an event whose envelope carries a sampled traceparent is always traced.",
  }),
} as const;
