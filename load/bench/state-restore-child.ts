/**
 * One processor of the state-restore benchmark, in a process of its own (so its heap can be
 * limited with --max-old-space-size): the host-state job, state on disk (STATE_DIR) or in memory.
 * MODE=process: until it has processed EXPECTED records. MODE=restore: a few new records (one
 * per partition) make it take its partitions; it reports the restore's log line. One JSON line
 * on stdout.
 */
import { getHeapStatistics } from "node:v8";
import { Kafka, logLevel } from "kafkajs";
import { toBinary, create } from "@bufbuild/protobuf";
import { Processor } from "../../src/processor/processor.js";
import { configuredJobs } from "../../src/processor/jobs.js";
import { HttpAccessLogSchema } from "../../src/events.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { headers } from "../../src/kafka-contract.js";

const brokers = process.env.BROKERS!;
const mode = process.env.MODE as "process" | "restore";
const stateDir = process.env.STATE_DIR || undefined;
const [configured] = await configuredJobs({ processorJobs: ["./load/bench/jobs/host-state.ts"], jobOptions: {}, schemaImage: "" });
const lines: string[] = [];
const processor = new Processor({
  brokers: [brokers],
  job: configured!.runtime,
  module: configured!.module,
  threads: 2,
  groupId: process.env.GROUP!,
  ...(stateDir ? { stateDir } : {}),
  log: (l) => lines.push(l),
});
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
const started = performance.now();
await processor.start();
const heapLimitMiB = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);

async function waitFor(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 20));
}

if (mode === "process") {
  const expected = Number(process.env.EXPECTED);
  let first: number | undefined;
  await waitFor(() => {
    if (first === undefined && processor.stats().records > 0) first = performance.now();
    return processor.stats().records >= expected;
  });
  const seconds = (performance.now() - first!) / 1000;
  console.log(
    JSON.stringify({
      records: processor.stats().records,
      recordsPerSec: Math.round(processor.stats().records / seconds),
      heapLimitMiB,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
    }),
  );
} else {
  // One new host per partition: a batch on every partition makes the processor restore them.
  const type = SchemaRegistry.builtin().eventType(HttpAccessLogSchema.typeName)!;
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-bench-restore" });
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const now = Date.now();
  await producer.send({
    topic: type.topic,
    acks: -1,
    messages: Array.from({ length: type.partitions }, (_, p) => ({
      key: `restore-probe-${now}-${p}`,
      partition: p,
      value: Buffer.from(toBinary(HttpAccessLogSchema, create(HttpAccessLogSchema, { host: "probe", method: "GET", path: "/", status: 200 }))),
      timestamp: String(now),
      headers: { [headers.type]: type.name, [headers.tenant]: "bench" },
    })),
  });
  await producer.disconnect();
  await waitFor(() => processor.stats().records >= type.partitions);
  const restored = lines.filter((l) => l.startsWith("restored partitions"));
  const ms = restored.reduce((sum, l) => sum + Number(/ in ([0-9]+) ms/.exec(l)?.[1] ?? 0), 0);
  console.log(
    JSON.stringify({
      restoreMs: ms,
      untilProcessingMs: Math.round(performance.now() - started),
      restored,
      heapLimitMiB,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
    }),
  );
}
clearInterval(sampler);
await processor.close();
process.exit(0);
