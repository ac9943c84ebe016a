/**
 * The chaos suite's own reader of Kafka: Apache Kafka's Java client (java/ChaosReader.java, run as a
 * source file with the broker's own jars), read_committed, every partition from its start up to its
 * last stable offset at the time of the call. It shares no code with Weir or with the Kafka clients
 * Weir uses, and it is the reference implementation of read_committed: the Node clients tried
 * before (@platformatic/kafka 1.35) let records of aborted transactions through and crashed on an
 * abort marker they did not expect, which made committed windows look wrong.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ensureKafkaJars } from "../../src/stack/kafka-jars.js";

export type ReadBack = { topic: string; partition: number; key: string; value: Buffer; headers: Map<string, string> };

const READER = fileURLToPath(new URL("./java/ChaosReader.java", import.meta.url));

/** Every committed record of `topic`; `headersOnly` leaves values empty (a smaller output for large topics). */
export async function readAll(brokers: readonly string[], topic: string, opts: { headersOnly?: boolean } = {}): Promise<ReadBack[]> {
  const { classpath } = await ensureKafkaJars();
  const child = spawn("java", ["-cp", classpath, READER, brokers.join(","), topic, ...(opts.headersOnly ? ["headers-only"] : [])], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: ReadBack[] = [];
  let partial = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      const r = JSON.parse(line) as { p: number; k: string; h: Record<string, string>; v: string };
      out.push({
        topic,
        partition: r.p,
        key: Buffer.from(r.k, "base64").toString(),
        value: Buffer.from(r.v, "base64"),
        headers: new Map(Object.entries(r.h)),
      });
    }
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`reading ${topic} with the Java client failed (exit ${code}): ${stderr}`);
  return out;
}
