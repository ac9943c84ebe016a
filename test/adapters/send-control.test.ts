import { describe, expect, it } from "vitest";
import { GroupCommit, StallBreaker, importClientPackage } from "../../src/adapters/kafka/send-control.js";
import { WeirError } from "../../src/errors.js";
import type { OutRecord } from "../../src/ingest/ports.js";
import { deferred, flushMicrotasks, track, type Deferred } from "../unit-fixtures/fake-ports.js";

const rec = (id: string, bytes = 10): OutRecord => ({ topic: "t", key: id, value: new Uint8Array(bytes), headers: { "weir.id": id } });

describe("StallBreaker", () => {
  it("is healthy with nothing pending, opens when the oldest pending send passes stallMs", () => {
    let now = 1000;
    const b = new StallBreaker(100, () => now);
    expect(b.healthy).toBe(true);
    const first = b.start();
    now += 50;
    const second = b.start();
    now += 51;
    expect(b.healthy).toBe(false);
    b.settle(first, true);
    // The second send is only 51 ms old.
    expect(b.healthy).toBe(true);
    now += 50;
    expect(b.healthy).toBe(false);
    b.settle(second, true);
    expect(b.healthy).toBe(true);
    expect(b.inFlight).toBe(0);
  });

  it("stays open for stallMs after a failed send, then closes again", () => {
    let now = 0;
    const b = new StallBreaker(100, () => now);
    b.settle(b.start(), false);
    expect(b.healthy).toBe(false);
    now = 100;
    expect(b.healthy).toBe(false);
    now = 101;
    expect(b.healthy).toBe(true);
  });
});

describe("GroupCommit", () => {
  function harness(maxBytes = 1000) {
    const sends: Array<{ records: readonly OutRecord[]; done: Deferred<void> }> = [];
    const breaker = new StallBreaker(1000);
    const commit = new GroupCommit(
      (records) => {
        const done = deferred<void>();
        sends.push({ records, done });
        return done.promise;
      },
      breaker,
      maxBytes,
    );
    return { sends, breaker, commit };
  }

  it("keeps one send in flight and puts everything published meanwhile in the next one", async () => {
    const { sends, commit, breaker } = harness();
    const a = track(commit.publish([rec("a")]));
    const b = track(commit.publish([rec("b1"), rec("b2")]));
    const c = track(commit.publish([rec("c")]));
    expect(sends).toHaveLength(1);
    expect(sends[0]!.records.map((r) => r.key)).toEqual(["a"]);
    expect(breaker.inFlight).toBe(1);

    sends[0]!.done.resolve();
    await flushMicrotasks();
    expect(a.settled).toBe(true);
    expect(b.settled).toBe(false);
    expect(sends).toHaveLength(2);
    expect(sends[1]!.records.map((r) => r.key)).toEqual(["b1", "b2", "c"]);

    sends[1]!.done.resolve();
    await Promise.all([b.promise, c.promise]);
    expect(breaker.inFlight).toBe(0);
  });

  it("caps a send at maxSendBytes of values, but always takes one caller's records", async () => {
    const { sends, commit } = harness(100);
    void commit.publish([rec("first")]);
    const big = commit.publish([rec("big", 500)]);
    const after = commit.publish([rec("after", 60)]);
    const last = commit.publish([rec("last", 60)]);
    sends[0]!.done.resolve();
    await flushMicrotasks();
    expect(sends[1]!.records.map((r) => r.key)).toEqual(["big"]);
    sends[1]!.done.resolve();
    await big;
    await flushMicrotasks();
    expect(sends[2]!.records.map((r) => r.key)).toEqual(["after", "last"]);
    sends[2]!.done.resolve();
    await Promise.all([after, last]);
  });

  it("rejects every caller of a failed send, opens the breaker, and goes on with the next send", async () => {
    const { sends, commit, breaker } = harness();
    void commit.publish([rec("a")]).catch(() => undefined);
    const b = commit.publish([rec("b")]);
    const c = commit.publish([rec("c")]);
    sends[0]!.done.resolve();
    await flushMicrotasks();
    sends[1]!.done.reject(new Error("broker gone"));
    await expect(b).rejects.toThrow("broker gone");
    await expect(c).rejects.toThrow("broker gone");
    expect(breaker.healthy).toBe(false);
    const d = commit.publish([rec("d")]);
    expect(sends).toHaveLength(3);
    sends[2]!.done.resolve();
    await d;
  });

  it("a send function that throws synchronously fails its callers only", async () => {
    const breaker = new StallBreaker(1000);
    let calls = 0;
    const commit = new GroupCommit(
      () => {
        if (calls++ === 0) throw new Error("boom");
        return Promise.resolve();
      },
      breaker,
      1000,
    );
    await expect(commit.publish([rec("a")])).rejects.toThrow("boom");
    await commit.publish([rec("b")]);
  });

  it("resolves an empty publish at once, and rejectWaiting fails only those not yet sent", async () => {
    const { sends, commit } = harness();
    await commit.publish([]);
    expect(sends).toHaveLength(0);
    const sent = commit.publish([rec("a")]);
    const waiting = commit.publish([rec("b")]);
    commit.rejectWaiting(new Error("closed"));
    await expect(waiting).rejects.toThrow("closed");
    sends[0]!.done.resolve();
    await sent;
  });
});

describe("importClientPackage", () => {
  it("fails with WEIR_ERR_CONFIG naming the client, the package and how to install it", async () => {
    const err = await importClientPackage("@weir-test/no-such-package", "confluent", "run npm ci").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeirError);
    expect((err as WeirError).code).toBe("WEIR_ERR_CONFIG");
    expect((err as WeirError).message).toContain("WEIR_KAFKA_CLIENT=confluent");
    expect((err as WeirError).message).toContain("@weir-test/no-such-package");
    expect((err as WeirError).message).toContain("run npm ci");
  });

  it("loads an installed package", async () => {
    const mod = await importClientPackage<{ Kafka: unknown }>("kafkajs", "kafkajs", "");
    expect(mod.Kafka).toBeDefined();
  });
});
