/**
 * The processor jobs of one process (the gateway's, or `weir processor`'s), from the config: one
 * Processor per job in WEIR_PROCESSOR_JOBS, all in their own consumer groups, and the webhook sink
 * for alerts when WEIR_WEBHOOK_URL is set (it runs wherever the jobs run: its consumer group
 * shares the alerts among the processes).
 */
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { jobOptionsOf, jobSpec } from "./jobs.js";
import { Processor } from "./processor.js";
import { WebhookSink } from "../sinks/webhook-sink.js";
import type { ProcessorObserver } from "../metrics/prometheus.js";

export type RunningProcessors = {
  readonly processors: readonly Processor[];
  readonly webhook: WebhookSink | undefined;
  close(): Promise<void>;
};

export async function startProcessors(config: Config, logger: Logger, observer?: ProcessorObserver): Promise<RunningProcessors> {
  const jobOptions = jobOptionsOf(config);
  for (const job of config.processorJobs) jobSpec(job); // unknown job names fail before anything starts
  const processors = config.processorJobs.map(
    (job) =>
      new Processor({
        brokers: config.kafkaBrokers,
        job,
        threads: config.processorThreads,
        groupId: `${config.processorGroupPrefix}-${job}`,
        instanceId: config.gatewayId,
        jobOptions,
        replicationFactor: config.topicReplication,
        sessionTimeoutMs: config.processorSessionTimeoutMs,
        ...(config.processorIdleAdvanceMs > 0 ? { idleAdvanceMs: config.processorIdleAdvanceMs } : {}),
        ...(observer ? { observer } : {}),
        ...(config.otlpEndpoint ? { tracing: { endpoint: config.otlpEndpoint } } : {}),
        log: (line) => logger.info({ job }, line),
      }),
  );
  const webhook = config.webhookUrl
    ? new WebhookSink({
        brokers: config.kafkaBrokers,
        url: config.webhookUrl,
        groupId: `${config.processorGroupPrefix}-webhook`,
        log: (line) => logger.info({ sink: "webhook" }, line),
      })
    : undefined;
  const close = async () => {
    await Promise.all([...processors.map((p) => p.close()), webhook?.close()]);
  };
  try {
    await Promise.all([...processors.map((p) => p.start()), webhook?.start()]);
  } catch (err) {
    await close();
    throw err;
  }
  logger.info({ jobs: config.processorJobs, threads: config.processorThreads }, "processor jobs running");
  return { processors, webhook, close };
}
