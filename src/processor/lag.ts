/** How far a consumer group is behind on a topic: end offset minus committed offset, per partition. */
import type { Admin } from "kafkajs";

export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const lag = new Map<number, number>();
  for (const e of ends) {
    const at = Number(committed?.partitions.find((c) => c.partition === e.partition)?.offset ?? -1);
    // -1: nothing committed yet, so everything from the log start is still to consume.
    lag.set(e.partition, Number(e.high) - (at < 0 ? Number(e.low) : at));
  }
  return lag;
}

/** Polls until the group has no lag on `topic` (false after `timeoutMs`). */
export async function waitForCaughtUp(admin: Admin, groupId: string, topic: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ([...(await consumerLag(admin, groupId, topic)).values()].every((l) => l <= 0)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The group's lag on its topics ("topic/partition" → lag) and the member ids the broker lists for it (what ProgressWatch judges). */
export async function probeGroup(admin: Admin, groupId: string, topics: readonly string[]): Promise<{ lag: Map<string, number>; members: string[] }> {
  const [lags, described] = await Promise.all([Promise.all(topics.map((t) => consumerLag(admin, groupId, t))), admin.describeGroups([groupId])]);
  const lag = new Map<string, number>();
  lags.forEach((byPartition, i) => {
    for (const [p, l] of byPartition) lag.set(`${topics[i]!}/${p}`, l);
  });
  return { lag, members: described.groups[0]?.members.map((m) => m.memberId) ?? [] };
}
