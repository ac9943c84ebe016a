/**
 * The gateway's side of subscriptions: which streams exist, one shared TopicTail per topic with
 * subscribers (opened on the first, closed a while after the last leaves), and for subscribers
 * that start in the past a catch-up read that hands them over to the tail (see Subscription).
 * Catch-up reads are the expensive part (each is a Kafka consumer with its own fetch buffers), so
 * a gateway runs at most `maxCatchUps` at once; later ones wait their turn, connected, in order.
 */
import type { Delivery, Subscribe } from "../gen/weir/v1/protocol_pb.js";
import { WeirError } from "../errors.js";
import type { Logger } from "../log.js";
import { decodeResumeToken } from "./resume-token.js";
import type { StreamSpec } from "./streams.js";
import type { StreamSource, Subscription } from "./subscription.js";
import type { TailRecord, TopicReaders, TopicTail } from "./ports.js";

/** How long a tail without subscribers stays open (a reconnecting subscriber finds it warm). */
const TAIL_LINGER_MS = 30_000;

type TopicState = {
  readonly tail: Promise<TopicTail>;
  readonly live: Set<Subscription>;
  lingerTimer?: NodeJS.Timeout;
};

export class SubscriptionHub implements StreamSource {
  private readonly topics = new Map<string, TopicState>();
  private readonly catchUps = new Map<Subscription, { stop(): Promise<void> }>();
  private readonly attached = new Set<Subscription>();
  /** Catch-up reads started or starting (each holds one of maxCatchUps). */
  private catchUpSlots = 0;
  /** Subscribers waiting for a catch-up slot, first come first served. */
  private readonly catchUpQueue = new Map<Subscription, (granted: boolean) => void>();

  constructor(
    private readonly readers: TopicReaders,
    private readonly catalog: ReadonlyMap<string, StreamSpec>,
    private readonly logger: Logger,
    private readonly maxCatchUps = Number.POSITIVE_INFINITY,
  ) {}

  /** Catch-up reads running, and subscribers waiting for one (metrics, tests). */
  get catchUpLoad(): { running: number; waiting: number } {
    return { running: this.catchUpSlots, waiting: this.catchUpQueue.size };
  }

  stream(name: string): StreamSpec | undefined {
    return this.catalog.get(name);
  }

  streamNames(): string[] {
    return [...this.catalog.keys()];
  }

  /** Subscribers attached now (for metrics and tests). */
  get subscribers(): ReadonlySet<Subscription> {
    return this.attached;
  }

  async attach(sub: Subscription, spec: StreamSpec, request: Subscribe): Promise<void> {
    const state = this.topicState(spec.topic);
    this.attached.add(sub);
    const tail = await state.tail;
    if (sub.closed) return;
    const start = request.start;
    if (start.case === undefined) {
      sub.startAt([...tail.next]);
      state.live.add(sub);
      return;
    }
    sub.startAt(await this.startOffsets(spec.topic, tail.partitions, start));
    if (sub.closed) return;
    if (this.caughtUp(sub, tail)) {
      state.live.add(sub);
      return;
    }
    if (!(await this.catchUpSlot(sub))) return;
    const handOver = () => {
      if (sub.closed || !this.catchUps.has(sub) || !this.caughtUp(sub, tail)) return;
      this.stopCatchUp(sub);
      state.live.add(sub);
    };
    if (sub.closed) return this.releaseCatchUpSlot();
    let reader: { stop(): Promise<void> };
    try {
      reader = await this.readers.startCatchUp(spec.topic, sub.next, {
        // At the subscriber's pace (see Subscription.offerPaced): the catch-up read waits for it.
        onRecords: async (partition, records, readAtMs) => {
          await sub.offerPaced(partition, records, readAtMs);
          handOver();
        },
        onEnd: (partition, next) => {
          sub.advance(partition, next);
          handOver();
        },
        onError: (err) => sub.fail(new WeirError("WEIR_ERR_SUBSCRIPTION_FAILED", String((err as Error)?.message ?? err))),
      });
    } catch (err) {
      this.releaseCatchUpSlot();
      throw err;
    }
    if (sub.closed) {
      this.releaseCatchUpSlot();
      return void reader.stop();
    }
    this.catchUps.set(sub, reader);
    handOver();
  }

  /** Resolves true once `sub` holds a catch-up slot, false if it left while it waited. */
  private catchUpSlot(sub: Subscription): Promise<boolean> {
    if (this.catchUpSlots < this.maxCatchUps) {
      this.catchUpSlots++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.catchUpQueue.set(sub, resolve));
  }

  /** Hands a freed slot to the first subscriber waiting, or returns it. */
  private releaseCatchUpSlot(): void {
    const next = this.catchUpQueue.entries().next();
    if (next.done) {
      this.catchUpSlots--;
      return;
    }
    const [sub, grant] = next.value;
    this.catchUpQueue.delete(sub);
    grant(true);
  }

  private stopCatchUp(sub: Subscription): void {
    const reader = this.catchUps.get(sub);
    if (!reader) return;
    this.catchUps.delete(sub);
    void reader.stop();
    this.releaseCatchUpSlot();
  }

  detach(sub: Subscription): void {
    if (!this.attached.delete(sub)) return;
    this.catchUpQueue.get(sub)?.(false);
    this.catchUpQueue.delete(sub);
    this.stopCatchUp(sub);
    if (!sub.spec) return;
    const state = this.topics.get(sub.spec.topic);
    if (!state) return;
    state.live.delete(sub);
    if (state.live.size === 0 && ![...this.attached].some((s) => s.spec?.topic === sub.spec!.topic)) {
      clearTimeout(state.lingerTimer);
      const topic = sub.spec.topic;
      state.lingerTimer = setTimeout(
        () => void this.closeTopic(topic, state).catch((err: unknown) => this.logger.warn({ topic, err }, "cannot close topic tail")),
        TAIL_LINGER_MS,
      );
      state.lingerTimer.unref();
    }
  }

  async close(): Promise<void> {
    for (const grant of this.catchUpQueue.values()) grant(false);
    this.catchUpQueue.clear();
    await Promise.all([...this.catchUps.values()].map((r) => r.stop()));
    this.catchUps.clear();
    await Promise.all([...this.topics].map(([topic, state]) => this.closeTopic(topic, state)));
    await this.readers.close?.();
  }

  private topicState(topic: string): TopicState {
    let state = this.topics.get(topic);
    if (state) {
      clearTimeout(state.lingerTimer);
      return state;
    }
    const live = new Set<Subscription>();
    const tail = this.readers.openTail(topic).then((t) => {
      t.add({
        onRecords: (partition: number, records: readonly TailRecord[], next: number, readAtMs: number) => {
          // Subscribers at the same position with the same filter get the same deliveries: compute
          // (and encode) them once per group.
          const leads = new Map<string, { lead: Subscription; deliveries: readonly Delivery[] }>();
          for (const sub of live) {
            if (sub.closed) continue;
            const signature = sub.signature();
            const group = leads.get(signature);
            if (group) sub.adopt(group.lead, partition, records, group.deliveries);
            else {
              const deliveries = sub.offer(partition, records, readAtMs);
              // A lead that closed on the way (e.g. too slow) may not have moved its position.
              if (!sub.closed) leads.set(signature, { lead: sub, deliveries });
            }
            sub.advance(partition, next);
          }
        },
      });
      return t;
    });
    state = { tail, live };
    this.topics.set(topic, state);
    // A topic that cannot be read now (not created yet) must not stay cached as a failure.
    tail.catch((err: unknown) => {
      this.logger.warn({ topic, err }, "cannot read topic for subscribers");
      if (this.topics.get(topic) === state) this.topics.delete(topic);
    });
    return state;
  }

  private async closeTopic(topic: string, state: TopicState): Promise<void> {
    if (this.topics.get(topic) !== state) return;
    this.topics.delete(topic);
    clearTimeout(state.lingerTimer);
    await (await state.tail.catch(() => undefined))?.close();
  }

  private caughtUp(sub: Subscription, tail: TopicTail): boolean {
    return tail.next.every((n, p) => sub.next[p]! >= n);
  }

  /** Where a subscriber that does not start at the latest begins, per partition. */
  private async startOffsets(topic: string, partitions: number, start: Subscribe["start"]): Promise<number[]> {
    const { low, high, atTime } = await this.readers.offsets(topic, partitions, start.case === "fromTimestampMs" ? Number(start.value) : undefined);
    switch (start.case) {
      case "resumeToken": {
        const from = decodeResumeToken(start.value, topic, partitions);
        from.forEach((o, p) => {
          if (o < low[p]!) throw new WeirError("WEIR_ERR_RESUME_EXPIRED", p, o, low[p]!);
          if (o > high[p]!) throw new WeirError("WEIR_ERR_BAD_RESUME_TOKEN", `offset ${o} of partition ${p} is beyond the end (${high[p]})`);
        });
        return from;
      }
      case "fromTimestampMs":
        // No record at or after the time: start at the end.
        return atTime!.map((o, p) => (o < 0 ? high[p]! : o));
      default:
        return low;
    }
  }
}
