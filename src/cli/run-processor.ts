/** `weir processor`: one processor instance for one job until SIGTERM/SIGINT. */
import { hostname } from "node:os";
import { Processor } from "../processor/processor.js";

export async function runProcessor(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const brokers = (env.WEIR_KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim()).filter(Boolean);
  const job = env.WEIR_PROCESSOR_JOB;
  if (!job) {
    process.stderr.write("weir processor: set WEIR_PROCESSOR_JOB (error-rate or fraud)\n");
    return 2;
  }
  const threads = env.WEIR_PROCESSOR_THREADS ? Number(env.WEIR_PROCESSOR_THREADS) : 2;
  if (!Number.isInteger(threads) || threads < 1) {
    process.stderr.write(`weir processor: WEIR_PROCESSOR_THREADS must be a positive integer, got ${env.WEIR_PROCESSOR_THREADS}\n`);
    return 2;
  }
  const processor = new Processor({
    brokers,
    job,
    threads,
    // Stable across restarts, so a restarted instance fences (and aborts) its predecessor's transaction.
    instanceId: env.WEIR_PROCESSOR_INSTANCE_ID ?? hostname(),
    ...(env.WEIR_PROCESSOR_GROUP_ID ? { groupId: env.WEIR_PROCESSOR_GROUP_ID } : {}),
    log: (line) => process.stderr.write(`[processor ${job}] ${line}\n`),
  });
  const stop = new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await processor.start();
  await stop;
  await processor.close();
  return 0;
}
