/** Log lines written inside a span carry its trace and span ids (pino mixin), and none outside. */
import { Writable } from "node:stream";
import { context, trace } from "@opentelemetry/api";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createLogger } from "../../src/log.js";
import { startTracing, weirTracer, type Tracing } from "../../src/tracing/tracing.js";

let tracing: Tracing;
beforeAll(async () => {
  // An endpoint nobody listens on: spans are recorded; their export fails quietly in the background.
  tracing = await startTracing({ tracesUrl: "http://127.0.0.1:9/v1/traces" }, { serviceName: "weir-test" });
});
afterAll(async () => {
  await tracing.shutdown(); // waits for the failing export of the span (up to its timeout)
}, 30_000);

test("inside a span a log line has trace_id and span_id; outside it has neither", () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger("info", {}, sink);
  logger.info("outside");
  const span = weirTracer().startSpan("work");
  context.with(trace.setSpan(context.active(), span), () => logger.info("inside"));
  span.end();
  expect(lines[0]).toMatchObject({ msg: "outside" });
  expect(lines[0]).not.toHaveProperty("trace_id");
  expect(lines[1]).toMatchObject({ msg: "inside", trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
  expect(span.spanContext().traceId).not.toBe("00000000000000000000000000000000");
});
