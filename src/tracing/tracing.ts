/**
 * OpenTelemetry tracing for a Weir process (gateway, processor, engine worker thread): a tracer
 * provider exporting OTLP over HTTP (to Jaeger's 4318, or any collector), parent-based sampling;
 * the gateway starts traces for a ratio of the events that come without one. A client that sends a sampled traceparent in the
 * envelope is always traced (parent-based), so one event can be followed end to end whatever the
 * ratio. With no endpoint nothing is set up and the OpenTelemetry API stays a no-op.
 *
 * Spans are created only for sampled events (see `isSampled`), so tracing costs nothing per
 * event otherwise.
 */
import { DiagConsoleLogger, DiagLogLevel, context, diag, propagation, trace, type Context, type Span, type SpanContext, type Tracer } from "@opentelemetry/api";
import type { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { resolveToolSettings } from "../config.js";

export type TracingOptions = {
  /** OTLP/HTTP base URL, e.g. http://127.0.0.1:4318; empty: tracing off. */
  readonly endpoint: string;
  readonly serviceName: string;
  /** Export each span at once (worker threads, which can end without a flush). */
  readonly exportEachSpan?: boolean;
};

export type Tracing = { readonly enabled: boolean; shutdown(): Promise<void> };

let provider: NodeTracerProvider | undefined;

/**
 * Installs the global tracer provider of this process or thread (once). The SDK is loaded only
 * here: with tracing off (the default) a process or worker thread never loads it.
 */
export async function startTracing(opts: TracingOptions): Promise<Tracing> {
  if (!opts.endpoint) return { enabled: false, shutdown: async () => {} };
  if (provider) return { enabled: true, shutdown: async () => {} };
  const [
    { W3CTraceContextPropagator },
    { OTLPTraceExporter },
    { resourceFromAttributes },
    { AlwaysOnSampler, BatchSpanProcessor, NodeTracerProvider, ParentBasedSampler, SimpleSpanProcessor },
  ] = await Promise.all([
    import("@opentelemetry/core"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/sdk-trace-node"),
  ]);
  if (provider) return { enabled: true, shutdown: async () => {} };
  if (resolveToolSettings().otelDebug) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.DEBUG);
  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/$/, "")}/v1/traces` });
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": opts.serviceName }),
    // Weir decides itself which root traces to start (the gateway draws `sampleRatio` per event,
    // without making a span for the others), so a root span it does make is always recorded.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [opts.exportEachSpan ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  const own = provider;
  return {
    enabled: true,
    shutdown: async () => {
      await own.forceFlush().catch(() => {});
      await own.shutdown().catch(() => {});
      if (provider === own) {
        provider = undefined;
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
  return provider !== undefined;
}

export function weirTracer(): Tracer {
  return trace.getTracer("weir");
}

/**
 * Whether a W3C traceparent asks for this trace to be recorded (flags bit 0) and this process
 * records traces at all; otherwise no span is made and a traceparent passes on untouched.
 */
export function isSampled(traceparent: string | undefined): traceparent is string {
  return provider !== undefined && traceparent !== undefined && traceparent.length === 55 && (Number.parseInt(traceparent.slice(53), 16) & 1) === 1;
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
