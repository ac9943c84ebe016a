/** `weir processor`: the jobs of WEIR_PROCESSOR_JOBS in this process, until SIGTERM/SIGINT. */
import { resolveConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startProcessors } from "../../src/processor/processors.js";
import { startTracing } from "../../src/tracing/tracing.js";
import { WeirMetrics } from "../../src/metrics/prometheus.js";
import { serveMetrics } from "../../src/metrics/serve.js";

export async function runProcessor(): Promise<number> {
  const config = resolveConfig();
  const logger = createLogger(config.logLevel, { processor: config.gatewayId });
  if (config.processorJobs.length === 0) {
    logger.error("WEIR_PROCESSOR_JOBS is empty: nothing to run");
    return 2;
  }
  const tracing = await startTracing({ endpoint: config.otlpEndpoint, serviceName: "weir-processor" });
  const stop = new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  const metrics = new WeirMetrics();
  const running = await startProcessors(config, logger, metrics);
  const server = await serveMetrics(metrics, config.host, config.metricsPort);
  logger.info({ url: `http://${config.host}:${server.port}/metrics` }, "metrics");
  await stop;
  await running.close();
  await server.close();
  await tracing.shutdown();
  return 0;
}
