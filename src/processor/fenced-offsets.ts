/**
 * Per input partition, the first offset this owner may still process: everything below it is
 * committed, by this owner or by the one it fenced. Records below it that the consumer hands over
 * anyway are skipped, so nothing counts twice. Two ways kafkajs hands them over:
 * - after a take-over: the consumer read its start offset at assignment, possibly before the
 *   previous owner's last transaction (records, state and offset together) committed. So once the
 *   task's producer has fenced that owner (TaskProducers' afterFence), the committed offset is
 *   read again (`fence`); kafkajs has no KIP-447 generation check on sendOffsets to do this for us;
 * - after an error that followed a successful commit (a failed heartbeat at the end of a batch):
 *   kafkajs delivers the batch again. So each commit moves the floor too (`committed`).
 */
import type { Admin, KafkaMessage } from "kafkajs";

export class FencedOffsets {
  /** "topic/partition" → the first offset not committed yet. */
  private readonly floor = new Map<string, bigint>();

  constructor(
    private readonly admin: () => Promise<Admin>,
    private readonly groupId: string,
  ) {}

  /** Reads the group's committed offset of `topic`/`partition` (call once the previous owner is fenced). */
  async fence(topic: string, partition: number): Promise<void> {
    const admin = await this.admin();
    const [committed] = await admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
    const offset = BigInt(committed?.partitions.find((p) => p.partition === partition)?.offset ?? "-1");
    if (offset >= 0n) this.floor.set(`${topic}/${partition}`, offset);
    else this.floor.delete(`${topic}/${partition}`);
  }

  /** This owner committed everything below `next`. */
  committed(topic: string, partition: number, next: bigint): void {
    const key = `${topic}/${partition}`;
    const floor = this.floor.get(key);
    if (floor === undefined || next > floor) this.floor.set(key, next);
  }

  /** The messages not committed yet. */
  filter<M extends Pick<KafkaMessage, "offset">>(topic: string, partition: number, messages: readonly M[]): readonly M[] {
    const floor = this.floor.get(`${topic}/${partition}`);
    return floor === undefined ? messages : messages.filter((m) => BigInt(m.offset) >= floor);
  }
}
