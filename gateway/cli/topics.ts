/** `weir topics`: Weir's topics with their partitions, records and each consumer group's lag. */
import { Kafka, logLevel } from "kafkajs";
import { isWeirTopic } from "../../src/kafka-contract.js";

export type TopicRow = { topic: string; partitions: number; records: number; groups: Record<string, number> };

export async function topicRows(brokers: readonly string[]): Promise<TopicRow[]> {
  const admin = new Kafka({ brokers: [...brokers], clientId: "weir-topics", logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(isWeirTopic).sort();
    const rows = new Map<string, TopicRow>();
    const ends = new Map<string, Map<number, number>>();
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      ends.set(topic, new Map(offsets.map((o) => [o.partition, Number(o.high)])));
      rows.set(topic, { topic, partitions: offsets.length, records: offsets.reduce((n, o) => n + Number(o.high), 0), groups: {} });
    }
    const { groups } = await admin.listGroups();
    for (const { groupId } of groups) {
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId })) {
        const row = rows.get(topic);
        if (!row) continue;
        // A partition the group never committed counts from the start: all of it is lag.
        row.groups[groupId] = partitions.reduce((lag, p) => lag + Math.max(0, (ends.get(topic)?.get(p.partition) ?? 0) - Math.max(0, Number(p.offset))), 0);
      }
    }
    return [...rows.values()];
  } finally {
    await admin.disconnect();
  }
}

export async function runTopics(opts: { brokers: readonly string[]; json: boolean }): Promise<number> {
  const rows = await topicRows(opts.brokers);
  if (opts.json) {
    for (const row of rows) console.log(JSON.stringify(row));
    return 0;
  }
  const width = Math.max(5, ...rows.map((r) => r.topic.length));
  console.log(`${"topic".padEnd(width)}  partitions      records  consumer groups (lag)`);
  for (const r of rows) {
    const groups = Object.entries(r.groups).map(([g, lag]) => `${g} (${lag})`);
    console.log(`${r.topic.padEnd(width)}  ${String(r.partitions).padStart(10)}  ${String(r.records).padStart(11)}  ${groups.join(", ") || "-"}`);
  }
  return 0;
}
