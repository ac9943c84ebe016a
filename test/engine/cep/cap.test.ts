import { describe, expect, it } from "vitest";
import { Pattern } from "../../../src/engine/cep/index.js";
import { ArrayEmitter, type Ev, ev, is, run } from "./helpers.js";

const ab = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b"));

describe("CEP partial-match caps", () => {
  it("maxPartialMatchesPerKey drops the oldest partial matches and counts them", () => {
    const { matches, store, op } = run({ pattern: ab, maxPartialMatchesPerKey: 2 }, "a1 a2 a3 b1");
    expect(matches).toEqual(["a:a2 b:b1", "a:a3 b:b1"]);
    expect(store.get("k")!.droppedByCap).toBe(1);
    expect(op.stats.droppedByCap).toBe(1);
  });

  it("state stays bounded without within", () => {
    const { op, store } = run({ pattern: ab, maxPartialMatchesPerKey: 2 }, "");
    const out = new ArrayEmitter<never>();
    for (let i = 1; i <= 100; i++) op.process({ key: "k", value: ev(`a${i}`), timestampMs: i }, out);
    const state = store.get("k")!;
    expect(state.runs.length).toBe(2);
    expect(state.events.map((e) => e.value.id)).toEqual(["a99", "a100"]);
    expect(state.droppedByCap).toBe(98);
  });

  it("maxEventsPerPartialMatch drops partial matches that grow too long", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).oneOrMore().followedBy("b").where(is("b"));
    const { matches, store } = run({ pattern: p, maxEventsPerPartialMatch: 2 }, "a1 a2 a3 b1");
    expect(matches).toEqual(["a:a1,a2 b:b1", "a:a1 b:b1", "a:a2,a3 b:b1", "a:a2 b:b1", "a:a3 b:b1"]);
    expect(store.get("k")!.droppedByCap).toBe(2);
  });
});
