/**
 * The processor's spans for the traced records of one batch: "process <topic>" (CONSUMER, child of
 * the gateway's send span in the record's traceparent header), open while the workers process the
 * batch and the transaction commits. Its traceparent goes to the worker thread with the record.
 */
import { SpanKind, SpanStatusCode, type Span } from "@opentelemetry/api";
import type { KafkaMessage } from "kafkajs";
import { headers } from "../kafka-contract.js";
import { contextOf, isSampled, kafkaAttributes, traceparentOf, tracingActive, weirTracer } from "../tracing/tracing.js";

export class ProcessSpans {
  private readonly spans: Span[] = [];

  constructor(
    private readonly job: string,
    private readonly group: string,
  ) {}

  /** A span for this record if it carries a sampled traceparent; its traceparent, or undefined. */
  start(m: KafkaMessage, topic: string, partition: number): string | undefined {
    if (!tracingActive()) return undefined; // the common case: no per-record work at all
    const raw = m.headers?.[headers.traceparent];
    const tp = Buffer.isBuffer(raw) ? raw.toString("utf8") : typeof raw === "string" ? raw : undefined;
    if (!isSampled(tp)) return undefined;
    const span = weirTracer().startSpan(
      `process ${topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: kafkaAttributes("process", topic, {
          "messaging.consumer.group.name": this.group,
          "messaging.destination.partition.id": String(partition),
          "messaging.kafka.offset": Number(m.offset),
          "weir.job": this.job,
        }),
      },
      contextOf(tp),
    );
    this.spans.push(span);
    return traceparentOf(span);
  }

  /** Ends every span (as failed when the step did not commit). */
  end(error?: Error): void {
    for (const span of this.spans.splice(0)) {
      if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      span.end();
    }
  }
}
