/**
 * OpenTelemetry tracing for a Weir process (gateway, processor, engine worker thread), set up with
 * the OpenTelemetry Node SDK (`NodeSDK`) as its users configure it: the standard environment
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and its _ARG, OTEL_SDK_DISABLED), with
 * WEIR_OTLP_ENDPOINT as an alias of the endpoint. Traces go out over OTLP/HTTP (to Jaeger's 4318,
 * or any collector); the default sampler is parent-based always-on: the gateway decides itself
 * which events start a trace (WEIR_TRACE_SAMPLE_RATIO, without making a span for the others), and
 * a client that sends a sampled traceparent in the envelope is always traced, so one event can be
 * followed end to end whatever the ratio. Without an endpoint, or with OTEL_SDK_DISABLED=true, the
 * SDK is not even loaded and the OpenTelemetry API stays a no-op.
 *
 * Spans are created only for sampled events (see `isSampled`), so tracing costs nothing per
 * event otherwise. Weir's metrics are Prometheus' (/metrics): the SDK exports traces only.
 */
import { DiagConsoleLogger, DiagLogLevel, context, diag, propagation, trace, type Context, type Span, type SpanContext, type Tracer } from "@opentelemetry/api";
import type { NodeSDK } from "@opentelemetry/sdk-node";
import type { Config } from "../config.js";
import { resolveToolSettings } from "../config.js";

/**
 * Where a process's traces go, from its settings (plain data: worker threads get it from the
 * process that starts them). Undefined: tracing off.
 */
export type TracingSetup = {
  /** The OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  readonly tracesUrl: string;
  /** OTEL_SERVICE_NAME; absent: the process's own (weir-gateway, weir-processor, weir-engine). */
  readonly serviceName?: string;
};

export type Tracing = { readonly enabled: boolean; shutdown(): Promise<void> };

type TracingSettings = Pick<Config, "otlpEndpoint" | "otelEndpoint" | "otelTracesEndpoint" | "otelServiceName" | "otelSdkDisabled">;

/** The tracing of a process with these settings (OTEL_* first, WEIR_OTLP_ENDPOINT as the endpoint's alias). */
export function tracingSetup(config: TracingSettings): TracingSetup | undefined {
  if (config.otelSdkDisabled) return undefined;
  const base = config.otelEndpoint || config.otlpEndpoint;
  const tracesUrl = config.otelTracesEndpoint || (base ? `${base.replace(/\/$/, "")}/v1/traces` : "");
  if (!tracesUrl) return undefined;
  return { tracesUrl, ...(config.otelServiceName ? { serviceName: config.otelServiceName } : {}) };
}

let sdk: NodeSDK | undefined;

/**
 * Starts the OpenTelemetry SDK of this process or thread (once) and installs its tracer provider
 * and the W3C trace-context propagator. The SDK is loaded only here: with tracing off (the
 * default) a process or worker thread never loads it. `exportEachSpan`: export each span as it
 * ends (worker threads, which can end without a flush); otherwise in batches every 500 ms.
 */
export async function startTracing(setup: TracingSetup | undefined, own: { serviceName: string; exportEachSpan?: boolean }): Promise<Tracing> {
  if (!setup) return { enabled: false, shutdown: async () => {} };
  if (sdk) return { enabled: true, shutdown: async () => {} };
  const [{ W3CTraceContextPropagator }, { OTLPTraceExporter }, { BatchSpanProcessor, SimpleSpanProcessor }, { NodeSDK }] = await Promise.all([
    import("@opentelemetry/core"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/sdk-node"),
  ]);
  if (sdk) return { enabled: true, shutdown: async () => {} };
  if (resolveToolSettings().otelDebug) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.DEBUG);
  const exporter = new OTLPTraceExporter({ url: setup.tracesUrl });
  const started = new NodeSDK({
    // OTEL_SERVICE_NAME wins when set (the SDK's resource detection reads it, and OTEL_RESOURCE_ATTRIBUTES).
    ...(setup.serviceName ? {} : { serviceName: own.serviceName }),
    spanProcessors: [own.exportEachSpan ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
    textMapPropagator: new W3CTraceContextPropagator(),
    // Traces only: no OTLP metrics or logs exporters (the SDK's default when their env is unset).
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  started.start();
  sdk = started;
  return {
    enabled: true,
    shutdown: async () => {
      await started.shutdown().catch(() => {});
      if (sdk === started) {
        sdk = undefined;
        // Back to the no-op API, so a later gateway in this process can install its own provider.
        trace.disable();
        propagation.disable();
        context.disable();
      }
    },
  };
}

/** Whether this process (or worker thread) exports traces: spans are only worth making then. */
export function tracingActive(): boolean {
  return sdk !== undefined;
}

export function weirTracer(): Tracer {
  return trace.getTracer("weir");
}

/**
 * Whether a W3C traceparent asks for this trace to be recorded (flags bit 0) and this process
 * records traces at all; otherwise no span is made and a traceparent passes on untouched.
 */
export function isSampled(traceparent: string | undefined): traceparent is string {
  return sdk !== undefined && traceparent !== undefined && traceparent.length === 55 && (Number.parseInt(traceparent.slice(53), 16) & 1) === 1;
}

/** The context a traceparent continues. */
export function contextOf(traceparent: string): Context {
  return propagation.extract(context.active(), { traceparent });
}

/** The traceparent of a span, to put in a Kafka header or hand to a worker thread. */
export function traceparentOf(span: Span | SpanContext): string {
  const sc = "spanContext" in span ? span.spanContext() : span;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1).toString(16).padStart(2, "0")}`;
}

/** Messaging attributes (OpenTelemetry semantic conventions) for a Kafka hop. */
export function kafkaAttributes(
  operation: "send" | "receive" | "process",
  topic: string,
  extra: Record<string, string | number> = {},
): Record<string, string | number> {
  return { "messaging.system": "kafka", "messaging.operation.type": operation, "messaging.destination.name": topic, ...extra };
}
