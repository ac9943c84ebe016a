/**
 * `weir processor`: the jobs of WEIR_PROCESSOR_JOBS in this process, until SIGTERM/SIGINT. Exits
 * 0 after a signal; 1 when a processor cannot go on (a hung step, restarts without progress), so
 * the process supervisor starts a fresh one. /metrics, /healthz, /readyz on WEIR_METRICS_PORT.
 */
import { resolveConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startProcessors, type RunningProcessors } from "../../src/processor/processors.js";
import { startTracing, tracingSetup } from "../../src/tracing/tracing.js";
import { WeirMetrics } from "../../src/metrics/prometheus.js";
import { serveMetrics } from "../../src/metrics/serve.js";

/** How long a stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 15_000;

export async function runProcessor(): Promise<number> {
  const config = resolveConfig();
  const logger = createLogger(config.logLevel, { processor: config.gatewayId });
  if (config.processorJobs.length === 0) {
    logger.error("WEIR_PROCESSOR_JOBS is empty: nothing to run");
    return 2;
  }
  const tracing = await startTracing(tracingSetup(config), { serviceName: "weir-processor" });
  const stop = new Promise<number>((resolve) => {
    process.once("SIGTERM", () => resolve(0));
    process.once("SIGINT", () => resolve(0));
  });
  let fatal: (code: number) => void = () => {};
  const failed = new Promise<number>((resolve) => (fatal = resolve));
  const metrics = new WeirMetrics();
  const running: RunningProcessors = await startProcessors(config, logger, metrics, () => fatal(1));
  const server = await serveMetrics(metrics, config.host, config.metricsPort, () => running.health(), config.metricsToken);
  logger.info({ url: `http://${config.host}:${server.port}/metrics` }, "metrics");
  const code = await Promise.race([stop, failed]);
  const timer = setTimeout(() => {
    logger.error(`stop took over ${STOP_TIMEOUT_MS} ms; exiting`);
    process.exit(code || 1);
  }, STOP_TIMEOUT_MS);
  timer.unref();
  await running.close();
  await server.close();
  await tracing.shutdown();
  clearTimeout(timer);
  return code;
}
