import { describe, expect, it } from "vitest";
import { Lifecycle } from "../src/lifecycle.js";

function recorder() {
  const events: string[] = [];
  const errors: Array<{ name: string; err: unknown }> = [];
  const lifecycle = new Lifecycle({ closeTimeoutMs: 200, onCloseError: (name, err) => errors.push({ name, err }) });
  return { events, errors, lifecycle };
}

describe("Lifecycle", () => {
  it("goes starting → ready → draining → stopped, closing what it owns newest first after the drain", async () => {
    const { events, lifecycle } = recorder();
    expect(lifecycle.state).toBe("starting");
    await lifecycle.start(async () => {
      await lifecycle.step(
        "a",
        () => events.push("open a"),
        () => void events.push("close a"),
      );
      // An asynchronous step: open and close answer with promises.
      await lifecycle.step(
        "b",
        () => Promise.resolve(events.push("open b")),
        () => {
          events.push("close b");
          return Promise.resolve();
        },
      );
      lifecycle.own("c", () => void events.push("close c"));
    });
    expect(lifecycle.state).toBe("ready");
    let stateWhileDraining = "";
    await lifecycle.stop(() => {
      stateWhileDraining = lifecycle.state;
      events.push("drain");
      return Promise.resolve();
    });
    expect(stateWhileDraining).toBe("draining");
    expect(lifecycle.state).toBe("stopped");
    expect(events).toEqual(["open a", "open b", "drain", "close c", "close b", "close a"]);
  });

  it("a failing start step closes what the earlier steps opened and rethrows", async () => {
    const { events, lifecycle } = recorder();
    const failure = new Error("Kafka unreachable");
    await expect(
      lifecycle.start(async () => {
        await lifecycle.step(
          "redis",
          () => events.push("open redis"),
          () => void events.push("close redis"),
        );
        await lifecycle.step(
          "kafka",
          () => Promise.reject(failure),
          () => void events.push("close kafka"),
        );
        events.push("never");
      }),
    ).rejects.toBe(failure);
    expect(events).toEqual(["open redis", "close redis"]);
    expect(lifecycle.state).toBe("stopped");
  });

  it("stop is idempotent: a second call waits for the first and closes nothing twice", async () => {
    const { events, lifecycle } = recorder();
    await lifecycle.start(() => {
      lifecycle.own("x", () => void events.push("close x"));
      return Promise.resolve();
    });
    const [a, b] = [lifecycle.stop(), lifecycle.stop()];
    await Promise.all([a, b]);
    expect(events).toEqual(["close x"]);
  });

  it("a resource that fails or hangs while closing is reported and does not keep the others open", async () => {
    const { events, errors, lifecycle } = recorder();
    await lifecycle.start(() => {
      lifecycle.own("first", () => void events.push("close first"));
      lifecycle.own("hangs", () => new Promise<void>(() => {}));
      lifecycle.own("throws", () => {
        throw new Error("boom");
      });
      return Promise.resolve();
    });
    await lifecycle.stop();
    expect(events).toEqual(["close first"]);
    expect(errors.map((e) => e.name)).toEqual(["throws", "hangs"]);
    expect(String(errors[1]!.err)).toContain("did not close within 200 ms");
  });

  it("refuses start steps once started", async () => {
    const { lifecycle } = recorder();
    await lifecycle.start(async () => {});
    await expect(
      lifecycle.step(
        "late",
        () => 1,
        () => {},
      ),
    ).rejects.toThrow(/after start/);
  });
});
