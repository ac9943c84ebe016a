/**
 * The processor jobs of one process (the gateway's, or `weir processor`'s), from the config: one
 * Processor per job in WEIR_PROCESSOR_JOBS, all in their own consumer groups, and the webhook sink
 * for alerts when WEIR_WEBHOOK_URL is set (it runs wherever the jobs run: its consumer group
 * shares the alerts among the processes).
 */
import { kafkaSecurityOf } from "../adapters/kafka/kafka-security.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { configuredJobs } from "./jobs.js";
import { tracingSetup } from "../tracing/tracing.js";
import { Processor } from "./processor.js";
import { WebhookSink } from "../sinks/webhook-sink.js";
import type { ProcessorObserver } from "../metrics/prometheus.js";

export type RunningProcessors = {
  readonly processors: readonly Processor[];
  readonly webhook: WebhookSink | undefined;
  /** live: no processor gave up; ready: every processor reaches Kafka and none is restarting. */
  health(): { live: boolean; ready: boolean; jobs: Record<string, ReturnType<Processor["health"]>> };
  close(): Promise<void>;
};

/**
 * `onFatal`: a processor cannot go on in this process (see Processor's supervision); the owner
 * exits non-zero so its supervisor starts a fresh one.
 */
export async function startProcessors(
  config: Config,
  logger: Logger,
  observer?: ProcessorObserver,
  onFatal?: (err: Error) => void,
): Promise<RunningProcessors> {
  const jobs = await configuredJobs(config); // a bad job module or option fails before anything starts
  const security = kafkaSecurityOf(config);
  const tracing = tracingSetup(config);
  const processors = jobs.map(
    ({ runtime, module }) =>
      new Processor({
        brokers: config.kafkaBrokers,
        security,
        job: runtime,
        module,
        ...(config.schemaImage ? { schemaImage: config.schemaImage } : {}),
        threads: config.processorThreads,
        ...(config.stateDir ? { stateDir: config.stateDir } : {}),
        groupId: `${config.processorGroupPrefix}-${runtime.name}`,
        instanceId: config.gatewayId,
        replicationFactor: config.topicReplication,
        sessionTimeoutMs: config.processorSessionTimeoutMs,
        ...(config.processorIdleAdvanceMs > 0 ? { idleAdvanceMs: config.processorIdleAdvanceMs } : {}),
        ...(config.processorSourceIdleMs > 0 ? { sourceIdleMs: config.processorSourceIdleMs } : {}),
        ...(observer ? { observer } : {}),
        ...(tracing ? { tracing } : {}),
        log: (line) => logger.info({ job: runtime.name }, line),
        logger: logger.child({ job: runtime.name }),
        supervision: {
          stallMs: config.processorStallMs,
          stepTimeoutMs: config.processorStepTimeoutMs,
          restoreTimeoutMs: config.processorStepTimeoutMs * 5,
          intervalMs: config.healthIntervalMs,
          probeDeadlineMs: config.healthDeadlineMs,
        },
        ...(onFatal ? { onFatal } : {}),
      }),
  );
  const webhook = config.webhookUrl
    ? new WebhookSink({
        brokers: config.kafkaBrokers,
        security,
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
  logger.info({ jobs: jobs.map((j) => j.runtime.name), threads: config.processorThreads }, "processor jobs running");
  const health = () => {
    const jobs = Object.fromEntries(processors.map((p) => [p.job, p.health()]));
    const all = Object.values(jobs);
    return { live: all.every((h) => h.live), ready: all.every((h) => h.ready), jobs };
  };
  return { processors, webhook, health, close };
}
