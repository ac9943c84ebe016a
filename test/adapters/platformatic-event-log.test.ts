/** The @platformatic/kafka adapter's own logic, on a fake of the package (no broker). */
import { describe, expect, it } from "vitest";
import * as platformatic from "@platformatic/kafka";
import { PlatformaticEventLog, platformaticProducerOptions, type PlatformaticModule } from "../../src/adapters/kafka/platformatic-event-log.js";
import { topicMaxMessageBytes } from "../../src/adapters/kafka/send-control.js";
import type { OutRecord } from "../../src/ingest/ports.js";
import { silentLogger } from "../../src/log.js";
import { deferred, flushMicrotasks, track, type Deferred } from "../unit-fixtures/fake-ports.js";

type SentMessage = { topic: string; key: string; value: Buffer; headers: Record<string, string>; timestamp?: bigint };

class FakeProducer {
  static last: FakeProducer;
  readonly sends: Array<{ messages: SentMessage[]; done: Deferred<void> }> = [];
  initCalls = 0;
  closed = false;
  constructor(readonly options: Record<string, unknown>) {
    FakeProducer.last = this;
  }
  initIdempotentProducer() {
    this.initCalls++;
    return Promise.resolve({ producerId: BigInt(this.initCalls), producerEpoch: 0 });
  }
  send(options: { messages: SentMessage[] }) {
    const done = deferred<void>();
    this.sends.push({ messages: options.messages, done });
    return done.promise;
  }
  close(_force: boolean, cb: (err: Error | null) => void) {
    this.closed = true;
    cb(null);
  }
}

class FakeAdmin {
  static last: FakeAdmin;
  readonly created: unknown[] = [];
  metadataCalls = 0;
  closed = false;
  constructor(readonly options: Record<string, unknown>) {
    FakeAdmin.last = this;
  }
  static existing: string[] = [];
  static createError: Error | undefined;
  listTopics() {
    return Promise.resolve(FakeAdmin.existing);
  }
  createTopics(options: unknown) {
    this.created.push(options);
    if (FakeAdmin.createError) return Promise.reject(FakeAdmin.createError);
    return Promise.resolve([]);
  }
  metadata({ topics }: { topics: string[] }) {
    // No leader on the first look, as right after creation.
    const leader = this.metadataCalls++ === 0 ? -1 : 1;
    return Promise.resolve({ topics: new Map(topics.map((t) => [t, { partitionsCount: 1, partitions: [{ leader }] }])) });
  }
  close() {
    this.closed = true;
    return Promise.resolve();
  }
}

const fakeModule = { ...platformatic, Producer: FakeProducer, Admin: FakeAdmin } as unknown as PlatformaticModule;

const rec = (id: string, timestampMs?: number): OutRecord => ({
  topic: "t",
  key: id,
  value: new TextEncoder().encode(id),
  headers: { "weir.id": id },
  timestampMs,
});

async function connected() {
  const log = new PlatformaticEventLog({
    brokers: ["b:9092"],
    clientId: "gw",
    replicationFactor: 1,
    stallMs: 1000,
    deliveryTimeoutMs: 90_000,
    logger: silentLogger,
    module: fakeModule,
  });
  await log.connect();
  return { log, producer: FakeProducer.last };
}

describe("PlatformaticEventLog", () => {
  it("configures an idempotent acks=all producer whose retries end before the delivery timeout is far exceeded", () => {
    const options = platformaticProducerOptions(platformatic, { brokers: ["a:1"], clientId: "gw", deliveryTimeoutMs: 90_000 });
    expect(options).toMatchObject({ idempotent: true, acks: -1, bootstrapBrokers: ["a:1"] });
    const retries = options.retries as number;
    const delay = options.retryDelay as number;
    expect(retries * delay).toBeGreaterThanOrEqual(90_000);
    expect(retries * delay).toBeLessThan(100_000);
    expect(options.partitioner).toBe(platformatic.compatibilityPartitioner);
    expect(options.serializers?.key?.("k")).toEqual(Buffer.from("k"));
    expect(options.serializers?.headerValue?.("v")).toEqual(Buffer.from("v"));
  });

  it("takes a producer id on connect and keeps one send in flight (group commit)", async () => {
    const { log, producer } = await connected();
    expect(producer.initCalls).toBe(1);
    const a = track(log.publish([rec("a", 1_700_000_000_123)]));
    const b = track(log.publish([rec("b")]));
    const c = track(log.publish([rec("c")]));
    await flushMicrotasks();
    expect(producer.sends).toHaveLength(1);
    expect(producer.sends[0]!.messages).toEqual([
      { topic: "t", key: "a", value: Buffer.from("a"), headers: { "weir.id": "a" }, timestamp: 1_700_000_000_123n },
    ]);
    producer.sends[0]!.done.resolve();
    await a.promise;
    await flushMicrotasks();
    expect(producer.sends).toHaveLength(2);
    expect(producer.sends[1]!.messages.map((m) => m.key)).toEqual(["b", "c"]);
    expect(producer.sends[1]!.messages.map((m) => m.timestamp)).toEqual([undefined, undefined]);
    producer.sends[1]!.done.resolve();
    await Promise.all([b.promise, c.promise]);
    expect(log.healthy).toBe(true);
  });

  it("after a failed send takes a new producer id before the next one (its sequence numbers may be used up)", async () => {
    const { log, producer } = await connected();
    const a = log.publish([rec("a")]);
    await flushMicrotasks();
    producer.sends[0]!.done.reject(new Error("produce failed 361 times"));
    await expect(a).rejects.toThrow("produce failed");
    expect(log.healthy).toBe(false);
    const b = log.publish([rec("b")]);
    await flushMicrotasks();
    expect(producer.initCalls).toBe(2);
    producer.sends[1]!.done.resolve();
    await b;
    // A successful send does not ask for another id.
    const c = log.publish([rec("c")]);
    await flushMicrotasks();
    producer.sends[2]!.done.resolve();
    await c;
    expect(producer.initCalls).toBe(2);
  });

  it("on close fails the callers still waiting and closes the producer", async () => {
    const { log, producer } = await connected();
    void log.publish([rec("a")]).catch(() => undefined);
    const waiting = log.publish([rec("b")]);
    await log.close();
    await expect(waiting).rejects.toThrow("closed");
    expect(producer.closed).toBe(true);
  });

  it("creates missing topics with max.message.bytes and waits for their leaders", async () => {
    FakeAdmin.existing = ["old"];
    FakeAdmin.createError = undefined;
    const { log } = await connected();
    await log.ensureTopics([
      { topic: "old", partitions: 3 },
      { topic: "new", partitions: 6 },
      { topic: "compact", partitions: 1, compacted: true },
    ]);
    const admin = FakeAdmin.last;
    expect(admin.created).toEqual([
      { topics: ["new"], partitions: 6, replicas: 1, configs: [{ name: "max.message.bytes", value: String(topicMaxMessageBytes) }] },
      {
        topics: ["compact"],
        partitions: 1,
        replicas: 1,
        configs: [
          { name: "max.message.bytes", value: String(topicMaxMessageBytes) },
          { name: "cleanup.policy", value: "compact" },
        ],
      },
    ]);
    expect(admin.metadataCalls).toBe(2);
    expect(admin.closed).toBe(true);
  });

  it("tolerates a topic created concurrently by another gateway, not other errors", async () => {
    FakeAdmin.existing = [];
    const { log } = await connected();
    FakeAdmin.createError = Object.assign(new Error("exists"), { findBy: (k: string, v: unknown) => (k === "apiCode" && v === 36 ? {} : undefined) });
    await log.ensureTopics([{ topic: "x", partitions: 1 }]);
    FakeAdmin.createError = Object.assign(new Error("denied"), { findBy: () => undefined });
    await expect(log.ensureTopics([{ topic: "x", partitions: 1 }])).rejects.toThrow("denied");
    FakeAdmin.createError = undefined;
  });
});
