/**
 * One event's trace end to end, in the real Jaeger: a card transaction sent with a sampled
 * traceparent completes a fraud burst; the trace holds the gateway's ingest and send spans, the
 * processor's process span, the engine span from its worker thread, and the delivery of the
 * resulting alert to a subscriber, each the child of the one before.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import { CardTransactionSchema } from "../../src/events.js";
import { envelopeOf } from "../../src/client/envelope.js";
import { ResultCode, subscribe, type StreamDelivery } from "../../src/client/index.js";
import type { Gateway } from "../../gateway/gateway.js";
import { startTestStack, startTestJaeger, type TestJaeger, type TestStack } from "../../src/stack/index.js";
import { gatewayFor, streamAll, waitFor } from "./support.js";
import { startGatewayChild } from "./gateway-child.js";
import { repartitionTopic } from "../../src/kafka-contract.js";

const run = `trc-${Date.now().toString(36)}`;
const tenant = `tracing-${run}`;
let stack: TestStack;
let jaeger: TestJaeger;
let gateway: Gateway;

beforeAll(async () => {
  jaeger = await startTestJaeger({ log: (l) => process.stderr.write(`${l}\n`) });
  stack = await startTestStack();
  gateway = await gatewayFor(
    { kafkaBrokers: stack.kafkaBrokers, redisUrl: stack.redisUrl },
    {
      apiKeys: [`${tenant}:secret`],
      processorInGateway: true,
      processorJobs: ["weir/examples/jobs/fraud"],
      processorGroupPrefix: `weir-test-${run}`,
      otlpEndpoint: jaeger.otlpEndpoint,
      traceSampleRatio: 0,
    },
  );
}, 900_000); // the first run builds Jaeger from the Go module proxy
afterAll(async () => {
  await gateway?.close();
  await stack?.close();
  await jaeger?.close();
}, 60_000);

type JaegerSpan = { spanID: string; operationName: string; processID: string; references: Array<{ refType: string; spanID: string }> };
type JaegerTrace = { spans: JaegerSpan[]; processes: Record<string, { serviceName: string }> };

test("a sampled event's trace: gateway → Kafka → processor → worker thread → subscriber, parent by parent", async () => {
  const traceId = randomBytes(16).toString("hex");
  const clientSpan = randomBytes(8).toString("hex");
  const card = `${run}-card`;
  const at = Date.now() - 60_000;
  const purchase = (n: number, traceparent?: string) =>
    envelopeOf(
      CardTransactionSchema,
      { transactionId: `${run}-tx${n}`, cardId: card, amountMinor: 250_000n, currency: "USD", merchantId: "m-1", location: { country: "JP", city: "Tokyo" } },
      { id: `${run}-${n}`, eventTimeMs: at + n * 1000, partitionKey: card, ...(traceparent ? { traceparent } : {}) },
    );

  let live = false;
  const alerts = subscribe({
    url: gateway.url.replace("/v1/ingest", "/v1/subscribe"),
    tenant,
    apiKey: "secret",
    stream: "alerts",
    onSubscribed: () => (live = true),
  });
  await waitFor(() => live, "the alert subscription");
  const auth = { tenant, apiKey: "secret" };
  // Two purchases, then the third (traced) completes the burst and raises the alert.
  for (const e of [purchase(1), purchase(2), purchase(3, `00-${traceId}-${clientSpan}-01`)]) {
    const [r] = await streamAll(gateway.url, auth, [e], { connections: 1 });
    expect(r!.code).toBe(ResultCode.ACK);
  }
  const [alert] = await (async () => {
    const it = alerts[Symbol.asyncIterator]();
    const out: StreamDelivery[] = [];
    for (;;) {
      const r = await it.next();
      if (r.done) return [];
      if (r.value.key === card) return [r.value];
      out.push(r.value);
    }
  })();
  alerts.close();
  expect(alert?.key).toBe(card);

  let found: JaegerTrace | undefined;
  const want = [
    "weir.ingest weir.events.v1.CardTransaction",
    "send weir.events.card-transaction",
    // The fraud job keys by card: the repartition step, then the task reading the repartition topic.
    "process weir.events.card-transaction",
    `process ${repartitionTopic(`weir-test-${run}-fraud`)}`,
    "weir.engine fraud",
    "weir.deliver alerts",
  ];
  await waitFor(
    async () => {
      const res = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
      if (!res.ok) return false;
      found = ((await res.json()) as { data: JaegerTrace[] }).data[0];
      return want.every((op) => found?.spans.some((s) => s.operationName === op));
    },
    "the trace in Jaeger with every hop",
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; spans so far: ${found?.spans.map((s) => s.operationName).join(", ")}`);
  });
  const trace = found!;
  const span = (op: string) => trace.spans.find((s) => s.operationName === op)!;
  const parentOf = (op: string) => span(op).references.find((r) => r.refType === "CHILD_OF")?.spanID;
  const service = (op: string) => trace.processes[span(op).processID]!.serviceName;

  expect(parentOf(want[0]!)).toBe(clientSpan);
  expect(parentOf(want[1]!)).toBe(span(want[0]!).spanID);
  expect(parentOf(want[2]!)).toBe(span(want[1]!).spanID);
  expect(parentOf(want[3]!)).toBe(span(want[2]!).spanID);
  expect(parentOf(want[4]!)).toBe(span(want[3]!).spanID);
  expect(parentOf(want[5]!)).toBe(span(want[4]!).spanID);
  expect(service(want[0]!)).toBe("weir-gateway");
  expect(service(want[4]!)).toBe("weir-engine");
  // The batch phases hang under the ingest span.
  for (const phase of ["validate", "dedup"]) expect(parentOf(phase)).toBe(span(want[0]!).spanID);
}, 900_000);

test("a gateway configured only the OpenTelemetry way (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME) sends its traces to Jaeger", async () => {
  const child = await startGatewayChild({
    services: stack,
    gatewayId: `${run}-otel`,
    apiKeys: [`${tenant}:secret`],
    env: {
      WEIR_OTLP_ENDPOINT: "",
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
      OTEL_SERVICE_NAME: `${run}-edge`,
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test",
    },
  });
  try {
    const traceId = randomBytes(16).toString("hex");
    const traced = envelopeOf(
      CardTransactionSchema,
      {
        transactionId: `${run}-otel`,
        cardId: `${run}-otel-card`,
        amountMinor: 100n,
        currency: "USD",
        merchantId: "m-1",
        location: { country: "JP", city: "Tokyo" },
      },
      { id: `${run}-otel`, eventTimeMs: Date.now() - 1000, traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` },
    );
    const [r] = await streamAll(child.url, { tenant, apiKey: "secret" }, [traced], { connections: 1 });
    expect(r!.code).toBe(ResultCode.ACK);
    let found: JaegerTrace | undefined;
    await waitFor(
      async () => {
        const res = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
        found = res.ok ? ((await res.json()) as { data: JaegerTrace[] }).data[0] : undefined;
        return found?.spans.some((s) => s.operationName === "weir.ingest weir.events.v1.CardTransaction") ?? false;
      },
      "the child gateway's ingest span in Jaeger",
      60_000,
    );
    const ingest = found!.spans.find((s) => s.operationName === "weir.ingest weir.events.v1.CardTransaction")!;
    const processOf = found!.processes[ingest.processID] as { serviceName: string; tags?: Array<{ key: string; value: unknown }> };
    expect(processOf.serviceName).toBe(`${run}-edge`);
    expect(processOf.tags).toContainEqual(expect.objectContaining({ key: "deployment.environment", value: "test" }));
  } finally {
    await child.stop();
  }
}, 120_000);
