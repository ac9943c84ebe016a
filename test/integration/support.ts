/** Helpers for integration tests against the real Kafka and Redis. */
import { Kafka, logLevel, type IHeaders } from "kafkajs";
import { startGateway, type Gateway, type GatewayOptions } from "../../gateway/gateway.js";
import { silentLogger } from "../../src/log.js";
import { readCommitted } from "../../src/adapters/kafka/read-committed.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import { IngestClient, type EventResult } from "../../src/client/index.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";

export type ReadRecord = { topic: string; partition: number; offset: string; timestamp: string; key: string; value: Buffer; headers: Record<string, string> };

function headerMap(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k] = Array.isArray(v) ? String(v[0]) : String(v ?? "");
  return out;
}

/**
 * Reads every record of `topics` up to their current end (everything acked or committed so far),
 * read_committed, with the same reader the processor restores state with; optionally only records
 * whose weir.tenant header is `tenant`.
 */
export async function readTopics(brokers: string, topics: readonly string[], tenant?: string): Promise<ReadRecord[]> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: "weir-test-reader" });
  const records: ReadRecord[] = [];
  await readCommitted(kafka, topics, (partition, m, topic) => {
    const headers = headerMap(m.headers);
    if (tenant !== undefined && headers["weir.tenant"] !== tenant) return;
    records.push({ topic, partition, offset: m.offset, timestamp: m.timestamp, key: m.key?.toString() ?? "", value: m.value ?? Buffer.alloc(0), headers });
  });
  return records;
}

/** A gateway on a free port, quiet, against the given services; without processor jobs unless asked. */
export function gatewayFor(services: { kafkaBrokers: string; redisUrl: string }, options: GatewayOptions = {}): Promise<Gateway> {
  return startGateway({
    kafkaBrokers: [services.kafkaBrokers],
    redisUrl: services.redisUrl,
    port: 0,
    logger: silentLogger,
    processorInGateway: false,
    ...options,
  });
}

/** Polls `condition` until it holds (or throws after `timeoutMs`). */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Streams `events` over `connections` clients, `batch` events per publish, several publishes in
 * flight per connection, retrying RETRY_AFTER until each event has a final result.
 * Resolves with the final results in event order.
 */
export async function streamAll(
  url: string,
  auth: { tenant: string; apiKey: string },
  events: readonly Envelope[],
  opts: { connections?: number; batch?: number; deadlineMs?: number } = {},
): Promise<EventResult[]> {
  const connections = opts.connections ?? 2;
  const batch = opts.batch ?? 100;
  const results = new Array<EventResult>(events.length);
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = await IngestClient.connect({ url, ...auth });
      const chunks: number[][] = [];
      let current: number[] = [];
      for (let i = c; i < events.length; i += connections) {
        current.push(i);
        if (current.length === batch) {
          chunks.push(current);
          current = [];
        }
      }
      if (current.length) chunks.push(current);
      await Promise.all(
        chunks.map(async (idx) => {
          const rs = await client.publishUntilFinal(
            idx.map((i) => events[i]!),
            { deadlineMs: opts.deadlineMs ?? 180_000 },
          );
          rs.forEach((r, j) => (results[idx[j]!] = r));
        }),
      );
      await client.close();
    }),
  );
  return results;
}

/** The topics of the built-in event types. */
export function eventTopics(): string[] {
  return SchemaRegistry.builtin()
    .eventTypes()
    .map((t) => t.topic);
}

/** How many records carry each weir.id. */
export function countById(records: readonly ReadRecord[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const r of records) seen.set(r.headers["weir.id"]!, (seen.get(r.headers["weir.id"]!) ?? 0) + 1);
  return seen;
}

export type ContinuousStream = {
  /** Every event sent so far, in send order. */
  readonly sent: Envelope[];
  /** Final result per event id. */
  readonly results: Map<string, EventResult>;
  /** Stops sending new batches and resolves when every sent event has a final result. */
  stop(): Promise<void>;
};

/**
 * Streams freshly made events until stopped: each connection keeps `inFlight` batches going,
 * each retried until final. Unlike a fixed list, it is still streaming whenever a fault is injected.
 */
export function continuousStream(
  url: string,
  auth: { tenant: string; apiKey: string },
  make: () => Envelope,
  opts: { connections?: number; batch?: number; inFlight?: number } = {},
): ContinuousStream {
  const sent: Envelope[] = [];
  const results = new Map<string, EventResult>();
  let stopped = false;
  const loops = Array.from({ length: opts.connections ?? 2 }, async () => {
    const client = await IngestClient.connect({ url, ...auth });
    const lane = async () => {
      while (!stopped) {
        const batch = Array.from({ length: opts.batch ?? 50 }, make);
        sent.push(...batch);
        const rs = await client.publishUntilFinal(batch, { deadlineMs: 180_000 });
        rs.forEach((r, j) => results.set(batch[j]!.id, r));
      }
    };
    await Promise.all(Array.from({ length: opts.inFlight ?? 4 }, lane));
    await client.close();
  });
  return {
    sent,
    results,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
