import { describe, expect, it } from "vitest";
import { Pattern } from "../../../src/engine/cep/index.js";
import { ArrayEmitter, type Ev, ev, is, run } from "./helpers.js";

const ab = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b")).within(1000);

describe("CEP within", () => {
  it("the whole match must fit: last - first < within", () => {
    expect(run({ pattern: ab }, "a1 b1", [0, 999]).matches).toEqual(["a:a1 b:b1"]);
    expect(run({ pattern: ab }, "a1 b1", [0, 1000]).matches).toEqual([]);
    const abc = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b")).followedBy("c").where(is("c")).within(1000);
    expect(run({ pattern: abc }, "a1 b1 c1", [0, 600, 1100]).matches).toEqual([]);
    expect(run({ pattern: abc }, "a1 b1 c1", [0, 600, 900]).matches).toEqual(["a:a1 b:b1 c:c1"]);
  });

  it("partial matches older than within are dropped as event time advances; state shrinks", () => {
    const { op, store } = run({ pattern: ab }, "a1 a2", [0, 500]);
    expect(op.partialMatchCount("k")).toBe(2);
    expect(store.get("k")!.events.map((e) => e.value.id)).toEqual(["a1", "a2"]);
    const out = new ArrayEmitter<never>();
    op.process({ key: "k", value: ev("x1"), timestampMs: 1200 }, out);
    expect(op.partialMatchCount("k")).toBe(1);
    expect(store.get("k")!.events.map((e) => e.value.id)).toEqual(["a2"]);
    op.process({ key: "k", value: ev("b1"), timestampMs: 1500 }, out);
    expect(out.out).toEqual([]);
    expect(op.partialMatchCount("k")).toBe(0);
    expect(store.get("k")!.events).toEqual([]);
    expect(op.stats).toEqual({ matches: 0, late: 0, expired: 2, droppedByCap: 0 });
  });

  it("the watermark expires partial matches of idle keys", () => {
    const { op, store } = run({ pattern: ab }, "a1", [0]);
    const out = new ArrayEmitter<never>();
    op.advanceWatermark(999, out);
    expect(op.partialMatchCount("k")).toBe(1);
    op.advanceWatermark(1000, out);
    expect(op.partialMatchCount("k")).toBe(0);
    expect(store.get("k")!.events).toEqual([]);
  });
});
