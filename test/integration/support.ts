/** Helpers for integration tests against the real Kafka and Redis. */
import { Kafka, logLevel, type IHeaders } from "kafkajs";
import { startGateway, type Gateway } from "../../gateway/gateway.js";
import { silentLogger } from "../../src/log.js";
import type { ConfigOptions } from "../../src/config.js";

export type ReadRecord = { topic: string; partition: number; offset: string; key: string; value: Buffer; headers: Record<string, string> };

function headerMap(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k] = Array.isArray(v) ? String(v[0]) : String(v ?? "");
  return out;
}

/**
 * Reads every record of `topics` up to their current end offsets (everything acked so far).
 * Optionally keeps only records whose weir.tenant header is `tenant`.
 */
export async function readTopics(brokers: string, topics: readonly string[], tenant?: string): Promise<ReadRecord[]> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-test-reader" });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  try {
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}/${p.partition}`, BigInt(p.high));
    }
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set([...ends].filter(([, high]) => high > 0n).map(([k]) => k));
  const records: ReadRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `weir-test-${process.pid}-${Date.now()}-${Math.random()}`, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`readTopics: still waiting for ${[...remaining].join(", ")}`)), 120_000);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            const key = `${batch.topic}/${batch.partition}`;
            const high = ends.get(key) ?? 0n;
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= high) break;
              const headers = headerMap(m.headers);
              if (tenant === undefined || headers["weir.tenant"] === tenant) {
                records.push({ topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key?.toString() ?? "", value: m.value ?? Buffer.alloc(0), headers });
              }
              if (BigInt(m.offset) + 1n >= high) remaining.delete(key);
            }
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** A gateway on a free port, quiet, against the given services. */
export function gatewayFor(services: { kafkaBrokers: string; redisUrl: string }, options: ConfigOptions = {}): Promise<Gateway> {
  return startGateway({ kafkaBrokers: [services.kafkaBrokers], redisUrl: services.redisUrl, port: 0, logger: silentLogger, ...options });
}

/** Polls `condition` until it holds (or throws after `timeoutMs`). */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
