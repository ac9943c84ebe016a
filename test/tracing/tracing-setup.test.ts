/** Where traces go, the OpenTelemetry way first (WEIR_OTLP_ENDPOINT as the endpoint's alias), and no SDK at all when it is off. */
import { expect, test, vi } from "vitest";

const sdkLoaded = vi.fn();
vi.mock("@opentelemetry/sdk-node", async (importOriginal) => {
  sdkLoaded();
  return importOriginal();
});

const { startTracing, tracingSetup } = await import("../../src/tracing/tracing.js");

const none = { otlpEndpoint: "", otelEndpoint: "", otelTracesEndpoint: "", otelServiceName: "", otelSdkDisabled: false };

test("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT or WEIR_OTLP_ENDPOINT plus /v1/traces", () => {
  expect(tracingSetup(none)).toBeUndefined();
  expect(tracingSetup({ ...none, otlpEndpoint: "http://jaeger:4318/" })).toEqual({ tracesUrl: "http://jaeger:4318/v1/traces" });
  expect(tracingSetup({ ...none, otlpEndpoint: "http://weir:4318", otelEndpoint: "http://otel:4318" })).toEqual({ tracesUrl: "http://otel:4318/v1/traces" });
  expect(tracingSetup({ ...none, otelEndpoint: "http://otel:4318", otelTracesEndpoint: "http://collector/traces" })).toEqual({
    tracesUrl: "http://collector/traces",
  });
  expect(tracingSetup({ ...none, otelEndpoint: "http://otel:4318", otelServiceName: "edge-gw" })).toEqual({
    tracesUrl: "http://otel:4318/v1/traces",
    serviceName: "edge-gw",
  });
});

test("OTEL_SDK_DISABLED=true: tracing off whatever the endpoints, and the SDK is never loaded", async () => {
  const setup = tracingSetup({ ...none, otelEndpoint: "http://otel:4318", otlpEndpoint: "http://weir:4318", otelSdkDisabled: true });
  expect(setup).toBeUndefined();
  const tracing = await startTracing(setup, { serviceName: "weir-test" });
  expect(tracing.enabled).toBe(false);
  expect(sdkLoaded).not.toHaveBeenCalled();
  // The check can fail: with an endpoint the SDK is loaded.
  const on = await startTracing({ tracesUrl: "http://127.0.0.1:9/v1/traces" }, { serviceName: "weir-test" });
  expect(on.enabled).toBe(true);
  expect(sdkLoaded).toHaveBeenCalled();
  await on.shutdown();
}, 30_000);
