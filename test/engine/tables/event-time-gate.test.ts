import { describe, expect, it } from "vitest";
import { MemoryStore, type Emitter, type EngineRecord, type Operator, type StoreProvider } from "../../../src/engine/types.js";
import { EngineTestDriver } from "../../../src/engine/testing/index.js";
import { EventTimeGate, TableWatermark, type GateEntry } from "../../../src/engine/tables/index.js";

const gate = (maxPerKey?: number) => new EventTimeGate<string>(new MemoryStore<GateEntry<string>>(), maxPerKey === undefined ? {} : { maxPerKey });
const released = (records: ReadonlyArray<{ key: string; value: string; timestampMs: number }>) => records.map((r) => `${r.key}:${r.value}@${r.timestampMs}`);

describe("EventTimeGate", () => {
  it("holds records until the watermark passes them, then releases them in (event time, arrival) order across keys", () => {
    const g = gate();
    g.offer("a", "a3", 300);
    g.offer("b", "b1", 100);
    g.offer("a", "a1", 100);
    g.offer("a", "a2", 200);
    g.offer("b", "b2", 200);
    expect(released(g.release(99))).toEqual([]);
    expect(released(g.release(200))).toEqual(["b:b1@100", "a:a1@100", "a:a2@200", "b:b2@200"]);
    expect(g.waiting("a").map((r) => r.value)).toEqual(["a3"]);
    expect(g.earliestWaitingMs()).toBe(300);
    // Exclusive bound: a record AT the bound stays.
    expect(released(g.release(300, false))).toEqual([]);
    expect(released(g.release(300))).toEqual(["a:a3@300"]);
    expect(g.earliestWaitingMs()).toBeUndefined();
    expect(g.stats()).toEqual({ waitingKeys: 0, releasedEarly: 0, lateCount: 0 });
  });

  it("refuses a record older than what it released for its key (late), accepts one at that time", () => {
    const g = gate();
    g.offer("a", "x", 100);
    g.offer("b", "y", 50);
    g.release(100);
    expect(g.releasedToMs("a")).toBe(100);
    expect(g.offer("a", "old", 99)).toEqual({ accepted: false, releasedToMs: 100 });
    expect(g.offer("a", "tie", 100)).toEqual({ accepted: true, early: [] });
    // Another key's released time does not make this one late.
    expect(g.offer("c", "c", 10).accepted).toBe(true);
    expect(g.stats().lateCount).toBe(1);
  });

  it("is bounded per key: beyond the cap the oldest is released at once and counted", () => {
    const g = gate(2);
    g.offer("a", "a2", 200);
    g.offer("a", "a3", 300);
    const r = g.offer("a", "a1", 100);
    expect(r.accepted && released(r.early)).toEqual(["a:a1@100"]);
    expect(g.waiting("a").map((w) => w.value)).toEqual(["a2", "a3"]);
    expect(g.stats().releasedEarly).toBe(1);
    // What was released early counts as released: older records are late now.
    expect(g.offer("a", "a0", 50).accepted).toBe(false);
    expect(() => gate(0)).toThrow(RangeError);
  });
});

// An operator that puts each key's records in event-time order with a bounded-out-of-orderness
// watermark (what a caller of the gate does) and emits them as released.
class OrderingOperator implements Operator<string, string> {
  private readonly gate: EventTimeGate<string>;
  private readonly wm: TableWatermark;
  constructor(stores: StoreProvider) {
    this.gate = new EventTimeGate(stores.store("gate"), { maxPerKey: 3 });
    this.wm = new TableWatermark(stores.store("progress"), "in", { maxOutOfOrdernessMs: 100 });
  }
  process(r: EngineRecord<string>, out: Emitter<string>): void {
    this.wm.observe("in", r.timestampMs);
    const offer = this.gate.offer(r.key, r.value, r.timestampMs);
    if (!offer.accepted) out.emit("late", r.key, r.value, r.timestampMs);
    else for (const e of offer.early) out.emit("early", e.key, e.value, e.timestampMs);
    this.drain(out);
  }
  advanceWatermark(watermarkMs: number, out: Emitter<string>): void {
    this.wm.advanceTo(watermarkMs);
    this.drain(out);
  }
  private drain(out: Emitter<string>): void {
    for (const e of this.gate.release(this.wm.watermarkMs)) out.emit("ordered", e.key, e.value, e.timestampMs);
  }
}

describe("EventTimeGate in an operator", () => {
  it("orders each key's records, and restores from its changelog at any point with the same output", () => {
    const inputs: Array<[string, number]> = [
      ["a", 1000],
      ["b", 1010],
      ["a", 950],
      ["a", 1050],
      ["b", 990],
      ["a", 1200], // watermark 1100: releases a@950, b@990, a@1000, b@1010, a@1050
      ["a", 1020], // older than a@1050, already released: late
      ["b", 1190],
      ["b", 1180],
      ["b", 1170],
      ["b", 1185], // four waiting for b with a cap of 3: b@1170 goes early
    ];
    const run = (driver: EngineTestDriver<OrderingOperator>, part: typeof inputs) => {
      for (const [key, t] of part) driver.pipeInput(key, `${key}@${t}`, t);
      return driver;
    };
    const build = () => new EngineTestDriver((stores) => new OrderingOperator(stores));
    const straight = run(build(), inputs).advanceWatermark(Number.POSITIVE_INFINITY);
    expect(straight.readAll("ordered").map((r) => r.value)).toEqual(["a@950", "b@990", "a@1000", "b@1010", "a@1050", "b@1180", "b@1185", "b@1190", "a@1200"]);
    expect(straight.readAll("late").map((r) => r.value)).toEqual(["a@1020"]);
    expect(straight.readAll("early").map((r) => r.value)).toEqual(["b@1170"]);
    for (let split = 0; split <= inputs.length; split++) {
      const first = run(build(), inputs.slice(0, split));
      const second = run(first.restore(), inputs.slice(split)).advanceWatermark(Number.POSITIVE_INFINITY);
      expect([...first.readAll(), ...second.readAll()]).toEqual(straight.readAll());
    }
  });
});
