/** The librdkafka adapter's own logic, on a fake of the package (no native build, no broker). */
import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfluentEventLog, confluentProducerConfig, type ConfluentModule } from "../../src/adapters/kafka/confluent-event-log.js";
import { topicMaxMessageBytes } from "../../src/adapters/kafka/send-control.js";
import type { OutRecord } from "../../src/ingest/ports.js";
import { silentLogger } from "../../src/log.js";
import { flushMicrotasks, track } from "../unit-fixtures/fake-ports.js";

type Produced = { topic: string; value: Buffer; key: unknown; timestamp: number | null; opaque: unknown; headers: Array<Record<string, string>> };

class FakeProducer extends EventEmitter {
  static instances: FakeProducer[] = [];
  readonly produced: Produced[] = [];
  throwAt: number | undefined;
  disconnected = false;
  constructor(readonly conf: Record<string, unknown>) {
    super();
    FakeProducer.instances.push(this);
  }
  connect(_opts: unknown, cb: (err: Error | null) => void) {
    cb(null);
  }
  produce(topic: string, _partition: null, value: Buffer, key: unknown, timestamp: number | null, opaque: unknown, headers: Array<Record<string, string>>) {
    if (this.throwAt === this.produced.length) throw new Error("Local: Queue full");
    this.produced.push({ topic, value, key, timestamp, opaque, headers });
  }
  setPollInBackground() {
    return this;
  }
  flush(_t: number, cb: (err: Error | null) => void) {
    cb(null);
    return this;
  }
  disconnect(_t: number, cb: () => void) {
    this.disconnected = true;
    cb();
  }
  deliver(index: number, err: Error | null = null) {
    this.emit("delivery-report", err, { topic: "t", partition: 0, offset: index, opaque: this.produced[index]!.opaque });
  }
}

class FakeAdmin {
  static last: FakeAdmin | undefined;
  created: Array<{ topic: string; num_partitions: number; replication_factor: number; config?: Record<string, string> }> = [];
  disconnected = false;
  constructor(
    readonly existing: string[],
    readonly failWith?: { code: number; message: string },
  ) {
    FakeAdmin.last = this;
  }
  listTopics(_o: unknown, cb: (err: null, names: string[]) => void) {
    cb(null, this.existing);
  }
  createTopic(t: FakeAdmin["created"][number], _timeout: number, cb: (err?: unknown) => void) {
    this.created.push(t);
    cb(this.failWith ? Object.assign(new Error(this.failWith.message), { code: this.failWith.code }) : undefined);
  }
  disconnect() {
    this.disconnected = true;
  }
}

function fakeModule(admin: () => FakeAdmin = () => new FakeAdmin([])): ConfluentModule {
  return { RdKafka: { Producer: FakeProducer, AdminClient: { create: admin } } } as unknown as ConfluentModule;
}

const rec = (id: string, timestampMs?: number): OutRecord => ({
  topic: "t",
  key: id,
  value: new TextEncoder().encode(id),
  headers: { "weir.id": id, "weir.tenant": "acme" },
  timestampMs,
});

async function connected(opts: { stallMs?: number; module?: ConfluentModule } = {}) {
  FakeProducer.instances = [];
  const log = new ConfluentEventLog({
    brokers: ["b1:9092", "b2:9092"],
    clientId: "gw",
    replicationFactor: 3,
    stallMs: opts.stallMs ?? 1000,
    deliveryTimeoutMs: 90_000,
    logger: silentLogger,
    module: opts.module ?? fakeModule(),
  });
  await log.connect();
  return { log, producer: () => FakeProducer.instances.at(-1)! };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("ConfluentEventLog", () => {
  it("configures an idempotent acks=all producer that rides out a broker restart", () => {
    const conf = confluentProducerConfig({ brokers: ["a:1", "b:2"], clientId: "gw", deliveryTimeoutMs: 90_000 });
    expect(conf).toMatchObject({
      "bootstrap.servers": "a:1,b:2",
      "enable.idempotence": true,
      acks: "all",
      "message.timeout.ms": 90_000,
      "message.max.bytes": topicMaxMessageBytes,
      partitioner: "murmur2_random",
    });
    expect(conf["message.send.max.retries"]).toBeGreaterThan(1_000_000);
    expect(conf["linger.ms"]).toBeLessThanOrEqual(5);
  });

  it("produces every record at once and resolves after the last delivery report", async () => {
    const { log, producer } = await connected();
    const answer = track(log.publish([rec("a", 1_700_000_000_123), rec("b"), rec("c")]));
    const p = producer();
    expect(p.produced.map((r) => r.key)).toEqual(["a", "b", "c"]);
    // The record timestamp is the event time; none given lets librdkafka use the current time.
    expect(p.produced.map((r) => r.timestamp)).toEqual([1_700_000_000_123, null, null]);
    expect(p.produced[0]!.value.toString()).toBe("a");
    expect(p.produced[0]!.headers).toEqual([{ "weir.id": "a" }, { "weir.tenant": "acme" }]);
    p.deliver(0);
    p.deliver(2);
    await flushMicrotasks();
    expect(answer.settled).toBe(false);
    p.deliver(1);
    await answer.promise;
    expect(log.healthy).toBe(true);
  });

  it("rejects a publish when one of its records fails, after all of them reported", async () => {
    const { log, producer } = await connected();
    const answer = track(log.publish([rec("a"), rec("b")]));
    producer().deliver(0, new Error("Local: Message timed out"));
    await flushMicrotasks();
    expect(answer.settled).toBe(false);
    producer().deliver(1);
    await expect(answer.promise).rejects.toThrow("Message timed out");
    expect(log.healthy).toBe(false);
  });

  it("rejects a publish whose records could not all be queued, once the queued ones reported", async () => {
    const { log, producer } = await connected();
    const p = producer();
    p.throwAt = 1;
    const answer = track(log.publish([rec("a"), rec("b"), rec("c")]));
    expect(p.produced).toHaveLength(1);
    await flushMicrotasks();
    expect(answer.settled).toBe(false);
    p.deliver(0);
    await expect(answer.promise).rejects.toThrow("Queue full");
  });

  it("keeps publishes independent: one settles while another is pending", async () => {
    const { log, producer } = await connected();
    const first = track(log.publish([rec("a")]));
    const second = track(log.publish([rec("b")]));
    producer().deliver(1);
    await second.promise;
    expect(first.settled).toBe(false);
    producer().deliver(0);
    await first.promise;
  });

  it("is unhealthy while a publish has been pending longer than stallMs", async () => {
    vi.useFakeTimers();
    const { log, producer } = await connected({ stallMs: 100 });
    const answer = log.publish([rec("a")]);
    expect(log.healthy).toBe(true);
    vi.advanceTimersByTime(101);
    expect(log.healthy).toBe(false);
    producer().deliver(0);
    await answer;
    expect(log.healthy).toBe(true);
  });

  it("after a fatal error fails publishes fast and replaces the producer", async () => {
    const { log, producer } = await connected();
    const first = producer();
    first.emit("event.error", Object.assign(new Error("Fatal idempotent producer error"), { code: -150, isFatal: true }));
    expect(log.healthy).toBe(false);
    await expect(log.publish([rec("a")])).rejects.toThrow("Fatal");
    await flushMicrotasks();
    expect(FakeProducer.instances).toHaveLength(2);
    expect(first.disconnected).toBe(true);
    const answer = log.publish([rec("b")]);
    producer().deliver(0);
    await answer;
  });

  it("on close flushes, disconnects and fails what never got a report", async () => {
    const { log, producer } = await connected();
    const answer = log.publish([rec("a")]);
    await log.close();
    expect(producer().disconnected).toBe(true);
    await expect(answer).rejects.toThrow("closed");
    await expect(log.publish([rec("b")])).rejects.toThrow("closed");
  });

  it("creates the missing topics with partitions, replication and max.message.bytes; tolerates a concurrent creation", async () => {
    const { log } = await connected({ module: fakeModule(() => new FakeAdmin(["old"])) });
    await log.ensureTopics([
      { topic: "old", partitions: 3 },
      { topic: "new", partitions: 6 },
      { topic: "compact", partitions: 1, compacted: true },
    ]);
    const admin = FakeAdmin.last!;
    expect(admin.created).toEqual([
      { topic: "new", num_partitions: 6, replication_factor: 3, config: { "max.message.bytes": String(topicMaxMessageBytes) } },
      {
        topic: "compact",
        num_partitions: 1,
        replication_factor: 3,
        config: { "max.message.bytes": String(topicMaxMessageBytes), "cleanup.policy": "compact" },
      },
    ]);
    expect(admin.disconnected).toBe(true);

    const racing = await connected({ module: fakeModule(() => new FakeAdmin([], { code: 36, message: "Topic already exists" })) });
    await racing.log.ensureTopics([{ topic: "x", partitions: 1 }]);
    const failing = await connected({ module: fakeModule(() => new FakeAdmin([], { code: 29, message: "Not authorized" })) });
    await expect(failing.log.ensureTopics([{ topic: "x", partitions: 1 }])).rejects.toThrow("Not authorized");
  });
});
