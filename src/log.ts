/**
 * The one logger factory: pino, JSON lines on stdout, level from config. A line logged while a
 * span is active carries its `trace_id` and `span_id`, so a log line leads to its trace in Jaeger.
 */
import { trace } from "@opentelemetry/api";
import { pino, type Logger } from "pino";

export type { Logger };

function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

export function createLogger(level: string, bindings: Record<string, unknown> = {}, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { pid: process.pid, ...bindings }, mixin: traceFields };
  return destination ? pino(options, destination) : pino(options);
}

export const silentLogger: Logger = pino({ level: "silent" });
