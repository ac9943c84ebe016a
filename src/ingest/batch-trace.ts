/**
 * The gateway's spans for the sampled events of one batch (events whose envelope carries a
 * sampled traceparent): "weir.ingest <type>" (SERVER, child of the client's span) with children
 * for the batch's phases — validate, dedup, and "send <topic>" (PRODUCER), whose context goes into
 * the Kafka record's traceparent header so the processor and subscribers continue the trace.
 * Phases are shared by the batch, so each sampled event's phase spans carry the batch's times.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Span } from "@opentelemetry/api";
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { ResultCode, type EventResult } from "../gen/weir/v1/protocol_pb.js";
import { contextOf, isSampled, kafkaAttributes, traceparentOf, tracingActive, weirTracer } from "../tracing/tracing.js";

export class BatchTrace {
  private readonly sends = new Map<number, Span>();

  private constructor(private readonly spans: ReadonlyMap<number, Span>) {}

  /**
   * Spans for the batch's sampled events, or undefined when none is sampled (the common case): an
   * event with a sampled traceparent continues its trace; one without any starts a new trace with
   * probability `ratio` (WEIR_TRACE_SAMPLE_RATIO); an unsampled traceparent is respected.
   */
  static start(events: readonly Envelope[], tenant: string, receivedAtMs: number, ratio: number): BatchTrace | undefined {
    if (!tracingActive()) return undefined;
    let spans: Map<number, Span> | undefined;
    for (let i = 0; i < events.length; i++) {
      const env = events[i]!;
      const continues = isSampled(env.traceparent);
      if (!continues && (env.traceparent || ratio <= 0 || Math.random() >= ratio)) continue;
      spans ??= new Map();
      spans.set(
        i,
        weirTracer().startSpan(
          `weir.ingest ${env.type}`,
          {
            kind: SpanKind.SERVER,
            startTime: receivedAtMs,
            attributes: { "weir.tenant": tenant, "weir.event.id": env.id, "weir.event.type": env.type, "weir.batch.size": events.length },
          },
          continues ? contextOf(env.traceparent) : ROOT_CONTEXT,
        ),
      );
    }
    return spans ? new BatchTrace(spans) : undefined;
  }

  /** A phase of the whole batch, recorded under every sampled event. */
  phase(name: string, startMs: number, endMs: number): void {
    for (const span of this.spans.values()) {
      weirTracer().startSpan(name, { startTime: startMs }, trace.setSpan(context.active(), span)).end(endMs);
    }
  }

  /** Starts the producer span of a sampled event; its traceparent goes into the record's header. */
  send(index: number, topic: string): string | undefined {
    const parent = this.spans.get(index);
    if (!parent) return undefined;
    const span = weirTracer().startSpan(
      `send ${topic}`,
      { kind: SpanKind.PRODUCER, attributes: kafkaAttributes("send", topic) },
      trace.setSpan(context.active(), parent),
    );
    this.sends.set(index, span);
    return traceparentOf(span);
  }

  /** Kafka settled records of the batch: those of events `only` (a batch may publish twice), else all. */
  sent(ok: boolean, error?: string, only?: readonly number[]): void {
    for (const index of only ?? [...this.sends.keys()]) {
      const span = this.sends.get(index);
      if (!span) continue;
      if (!ok) span.setStatus({ code: SpanStatusCode.ERROR, ...(error ? { message: error } : {}) });
      span.end();
      this.sends.delete(index);
    }
  }

  /** The batch is answered: each sampled event's result ends its span. */
  end(results: readonly EventResult[]): void {
    this.sent(true);
    for (const [i, span] of this.spans) {
      const r = results[i];
      if (r) {
        span.setAttribute("weir.result", ResultCode[r.code] ?? String(r.code));
        if (r.errorCode) span.setAttribute("weir.error.code", r.errorCode);
        if (r.code !== ResultCode.ACK && r.code !== ResultCode.DUPLICATE) span.setStatus({ code: SpanStatusCode.ERROR, message: r.reason });
      }
      span.end();
    }
  }
}
