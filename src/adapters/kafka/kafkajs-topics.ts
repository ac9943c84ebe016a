/**
 * Creating topics with kafkajs, robustly: on a fresh KRaft broker, metadata of a topic created a
 * moment ago can still answer UNKNOWN_TOPIC_OR_PARTITION, which kafkajs' `waitForLeaders` does not
 * retry; and another process may create the same topic at the same time. So: create what is
 * missing, accept "already exists", then wait until every partition of every topic has a leader.
 */
import type { Kafka } from "kafkajs";
import type { TopicSpec } from "../../ingest/ports.js";
import { topicMaxMessageBytes } from "./send-control.js";

export async function ensureTopicsWithKafkajs(
  kafka: Kafka,
  topics: readonly TopicSpec[],
  opts: { replicationFactor?: number; timeoutMs?: number } = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    let lastError: unknown;
    await admin
      .createTopics({
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          ...(opts.replicationFactor !== undefined ? { replicationFactor: opts.replicationFactor } : {}),
          configEntries: [
            { name: "max.message.bytes", value: String(topicMaxMessageBytes) },
            ...(t.compacted ? [{ name: "cleanup.policy", value: "compact" }] : []),
          ],
        })),
      })
      .catch((err: unknown) => {
        // TOPIC_ALREADY_EXISTS from a concurrent creator is fine; anything else shows below as a timeout.
        if ((err as { type?: string }).type !== "TOPIC_ALREADY_EXISTS") lastError = err;
      });
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics: missing.map((t) => t.topic) });
        if (meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline)
        throw new Error(`topics ${missing.map((t) => t.topic).join(", ")} not ready: ${(lastError as Error | undefined)?.message ?? "no leaders"}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.disconnect();
  }
}
