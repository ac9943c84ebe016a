/**
 * The chaos suite's own reader of Kafka: @platformatic/kafka (not kafkajs, which the gateway and
 * processors use, and none of Weir's code), read_committed, every partition from the earliest
 * offset up to its last stable offset at the time of the call.
 */
import { randomUUID } from "node:crypto";
import { Admin, Consumer, FetchIsolationLevels, MessagesStreamModes } from "@platformatic/kafka";

export type ReadBack = { topic: string; partition: number; key: string; value: Buffer; headers: Map<string, string> };

export async function readAll(brokers: readonly string[], topic: string, timeoutMs = 120_000): Promise<ReadBack[]> {
  const admin = new Admin({ clientId: "weir-chaos-admin", bootstrapBrokers: [...brokers] });
  let ends: Map<number, bigint>;
  try {
    const [meta] = await admin.listOffsets({
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      topics: [{ name: topic, partitions: await partitionsOf(admin, topic) }],
    });
    ends = new Map(meta!.partitions.map((p) => [p.partitionIndex, p.offset]));
  } finally {
    await admin.close();
  }
  const wanted = [...ends].filter(([, end]) => end > 0n);
  if (wanted.length === 0) return [];
  const consumer = new Consumer({ groupId: `weir-chaos-${randomUUID()}`, clientId: "weir-chaos-reader", bootstrapBrokers: [...brokers] });
  const out: ReadBack[] = [];
  try {
    const stream = await consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.EARLIEST,
      autocommit: false,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      maxWaitTime: 500,
    });
    const remaining = new Map(wanted);
    const lastSeen = new Map<number, bigint>();
    const deadline = Date.now() + timeoutMs;
    // A partition whose stable end is a transaction marker never yields a record at end - 1: one
    // within a few offsets of its end (the markers of its last transactions) is done after a
    // short quiet spell; anything else only after a long one (a busy broker can pause a fetch).
    let lastRecordAt = Date.now();
    const nearEnd = () => [...remaining].every(([p, end]) => (lastSeen.get(p) ?? -1n) >= end - 5n);
    const quiet = setInterval(() => {
      const idle = Date.now() - lastRecordAt;
      if ((idle > 3_000 && nearEnd()) || idle > 30_000 || Date.now() > deadline) void stream.close();
    }, 500);
    try {
      for await (const m of stream) {
        lastRecordAt = Date.now();
        const end = remaining.get(m.partition);
        if (end === undefined || m.offset >= end) continue;
        lastSeen.set(m.partition, m.offset);
        out.push({
          topic: m.topic,
          partition: m.partition,
          key: m.key?.toString() ?? "",
          value: m.value,
          headers: new Map([...m.headers].map(([k, v]) => [k.toString(), v.toString()])),
        });
        if (m.offset >= end - 1n) remaining.delete(m.partition);
        if (remaining.size === 0) break;
      }
    } finally {
      clearInterval(quiet);
    }
    if (Date.now() > deadline) throw new Error(`reading ${topic}: not done after ${timeoutMs} ms`);
  } finally {
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
  return out;
}

async function partitionsOf(admin: Admin, topic: string): Promise<{ partitionIndex: number; timestamp: bigint }[]> {
  const meta = await admin.metadata({ topics: [topic] });
  const t = meta.topics.get(topic);
  if (!t) throw new Error(`no topic ${topic}`);
  return Array.from({ length: t.partitionsCount }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
}
