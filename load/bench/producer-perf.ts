/**
 * The broker's own limit for the benchmark (issue 16): Kafka's ProducerPerformance (the Java
 * client, from kafka-tools) with the producer settings the gateway uses (acks=all, idempotent),
 * records of the gateway's size, as fast as it goes. Its figure is what the broker on this machine
 * takes from the best-tuned client; Weir's rates are put against it.
 */
import { spawn } from "node:child_process";
import { Kafka, logLevel } from "kafkajs";
import { ensureKafkaToolsJars } from "../../src/stack/kafka-jars.js";

export type ProducerPerfResult = { recordsPerSec: number; avgLatencyMs: number; p99LatencyMs: number };

export async function kafkaProducerPerformance(opts: {
  brokers: string;
  recordBytes: number;
  records: number;
  partitions?: number;
}): Promise<ProducerPerfResult> {
  const topic = `weir.bench.producer-perf`;
  const admin = new Kafka({ brokers: [opts.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions ?? 6 }] }).catch(() => false);
  await admin.disconnect();
  const jars = await ensureKafkaToolsJars({ log: (l) => process.stderr.write(`${l}\n`) });
  const args = [
    "-cp",
    jars.classpath,
    "org.apache.kafka.tools.ProducerPerformance",
    ...["--topic", topic, "--num-records", String(opts.records), "--record-size", String(opts.recordBytes), "--throughput", "-1"],
    ...["--producer-props", `bootstrap.servers=${opts.brokers}`, "acks=all", "enable.idempotence=true", "linger.ms=5"],
  ];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn("java", args, { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    child.stderr.on("data", (c: Buffer) => (text += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`ProducerPerformance exited ${code}: ${text.slice(-2000)}`))));
  });
  // The last line: "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50 ms 50th, p95 ms 95th, p99 ms 99th, ...".
  const summary = out
    .trim()
    .split("\n")
    .reverse()
    .find((l) => l.includes("records sent"));
  const m = summary && /([\d.]+) records\/sec.*?([\d.]+) ms avg latency.*?(\d+) ms 99th/.exec(summary);
  if (!m) throw new Error(`ProducerPerformance printed no summary: ${out.slice(-1000)}`);
  return { recordsPerSec: Number(m[1]), avgLatencyMs: Number(m[2]), p99LatencyMs: Number(m[3]) };
}
