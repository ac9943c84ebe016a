import { describe, expect, it } from "vitest";
import { EngineTestDriver, type StoreProvider } from "../../../src/engine/testing/index.js";
import type { Emitter, EngineRecord, KeyValueStore, Operator } from "../../../src/engine/types.js";

/** A running count per key: emits every count on "counts", odd counts also on "odd"; deletes at 3. */
class Counter implements Operator<string, number> {
  readonly seen: string[] = [];
  constructor(private readonly store: KeyValueStore<number>) {}
  process(record: EngineRecord<string>, out: Emitter<number>): void {
    this.seen.push(record.value);
    const n = (this.store.get(record.key) ?? 0) + 1;
    if (n === 3) this.store.delete(record.key);
    else this.store.put(record.key, n);
    out.emit("counts", record.key, n, record.timestampMs);
    if (n % 2 === 1) out.emit("odd", record.key, n, record.timestampMs);
  }
}

/** Emits the watermarks it is given. */
const watermarkEcho: Operator<never, number> = {
  process: () => {},
  advanceWatermark: (ms, out) => out.emit("watermarks", "", ms, ms),
};

const counter = (stores: StoreProvider) => new Counter(stores.store<number>("counts"));

describe("EngineTestDriver", () => {
  it("pipes records through the operator and drains output in emission order", () => {
    const d = new EngineTestDriver(counter);
    d.pipeInput("k", "x", 100).pipeRecords([
      { key: "k", value: "y", timestampMs: 90 },
      { key: "j", value: "z", timestampMs: 95 },
    ]);
    expect(d.operator.seen).toEqual(["x", "y", "z"]);
    expect(d.readOutput()).toEqual([
      { stream: "counts", key: "k", value: 1, timestampMs: 100 },
      { stream: "odd", key: "k", value: 1, timestampMs: 100 },
      { stream: "counts", key: "k", value: 2, timestampMs: 90 },
      { stream: "counts", key: "j", value: 1, timestampMs: 95 },
      { stream: "odd", key: "j", value: 1, timestampMs: 95 },
    ]);
    expect(d.readOutput()).toEqual([]);
  });

  it("reads one stream without losing the others; readAll keeps the whole history", () => {
    const d = new EngineTestDriver(counter);
    d.pipeInput("k", "a", 1).pipeInput("k", "b", 2);
    expect(d.readValues("odd")).toEqual([1]);
    expect(d.readValues("odd")).toEqual([]);
    expect(d.readValues()).toEqual([1, 2]);
    expect(d.readAll().map((r) => `${r.stream}:${r.value}`)).toEqual(["counts:1", "odd:1", "counts:2"]);
    expect(d.readAll("odd")).toEqual([{ stream: "odd", key: "k", value: 1, timestampMs: 1 }]);
  });

  it("exposes the operator's stores; unknown names throw", () => {
    const d = new EngineTestDriver(counter);
    d.pipeInput("b", "", 0).pipeInput("a", "", 0).pipeInput("b", "", 0);
    expect(d.storeNames()).toEqual(["counts"]);
    expect([...d.store<number>("counts").entries()]).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
    expect(() => d.store("nope")).toThrow(/no store named nope/);
  });

  it("records each store's changelog, tombstones included, and compacts it to the store's contents", () => {
    const d = new EngineTestDriver(counter);
    d.pipeInput("a", "", 0).pipeInput("a", "", 0).pipeInput("b", "", 0).pipeInput("a", "", 0);
    expect(d.changelog("counts")).toEqual([
      ["a", 1],
      ["a", 2],
      ["b", 1],
      ["a", undefined],
    ]);
    expect(d.changelogSnapshot()).toEqual({ counts: [["b", 1]] });
    expect(d.snapshot()).toEqual(d.changelogSnapshot());
  });

  it("snapshots are JSON copies, independent of the live stores", () => {
    const d = new EngineTestDriver(counter);
    d.pipeInput("a", "", 0);
    const snap = d.snapshot();
    d.pipeInput("a", "", 0);
    expect(snap).toEqual({ counts: [["a", 1]] });
  });

  it("restore() builds a new operator over the restored stores, which continues where the old one stopped", () => {
    const d = new EngineTestDriver(counter);
    d.pipeInput("a", "", 0).pipeInput("b", "", 0).pipeInput("b", "", 0);
    const r = d.restore();
    expect(r.operator).not.toBe(d.operator);
    expect(r.readAll()).toEqual([]);
    r.pipeInput("a", "", 5).pipeInput("b", "", 6);
    expect(r.readValues("counts")).toEqual([2, 3]);
    expect(d.readValues("counts")).toEqual([1, 1, 2]);
    const fromSnapshot = d.restore({ counts: [["a", 2]] });
    fromSnapshot.pipeInput("a", "", 0);
    expect(fromSnapshot.readValues("counts")).toEqual([3]);
  });

  it("advanceWatermark reaches operators that handle it and is a no-op for others", () => {
    const echo = new EngineTestDriver(() => watermarkEcho);
    echo.advanceWatermark(10).advanceWatermark(20);
    expect(echo.readValues("watermarks")).toEqual([10, 20]);
    const d = new EngineTestDriver(counter);
    d.advanceWatermark(10);
    expect(d.readOutput()).toEqual([]);
    expect(echo.storeNames()).toEqual([]);
    expect(echo.snapshot()).toEqual({});
  });
});
