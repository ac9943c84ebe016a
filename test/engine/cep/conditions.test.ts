import { describe, expect, it } from "vitest";
import { Pattern } from "../../../src/engine/cep/index.js";
import { type Ev, is, run } from "./helpers.js";

describe("CEP conditions", () => {
  it("where twice = AND", () => {
    const p = Pattern.begin<Ev>("a")
      .where(is("a"))
      .where((e) => e.id !== "a2");
    expect(run({ pattern: p }, "a1 a2 a3").matches).toEqual(["a:a1", "a:a3"]);
  });

  it("or = OR with the condition so far; where after or ANDs onto both", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).or(is("b"));
    expect(run({ pattern: p }, "a1 x1 b1").matches).toEqual(["a:a1", "a:b1"]);
    const q = Pattern.begin<Ev>("a")
      .where(is("a"))
      .or(is("b"))
      .where((e) => e.id.endsWith("1"));
    expect(run({ pattern: q }, "a1 a2 b1 b2 x1").matches).toEqual(["a:a1", "a:b1"]);
  });

  it("or without where is an error", () => {
    expect(() => Pattern.begin<Ev>("a").or(is("a"))).toThrow(/needs a where/);
  });

  it("predicates see the partial match so far (typed stage names)", () => {
    const p = Pattern.begin<Ev, undefined, "a">("a")
      .where(is("a"))
      .followedBy("b")
      .where((e, ctx) => e.type === "b" && ctx.events("a")[0]!.id.slice(1) === e.id.slice(1));
    expect(run({ pattern: p }, "a1 a2 b2 b1").matches).toEqual(["a:a2 b:b2", "a:a1 b:b1"]);
  });

  it("a loop can bound itself through ctx.events", () => {
    const p = Pattern.begin<Ev>("a")
      .where((e, ctx) => e.type === "a" && ctx.events("a").length < 2)
      .oneOrMore()
      .followedBy("c")
      .where(is("c"));
    // Runs from a1 stop growing at 2 events; a2 and a3 start their own.
    expect(run({ pattern: p }, "a1 a2 a3 c1").matches).toEqual(["a:a1,a2 c:c1", "a:a1 c:c1", "a:a2,a3 c:c1", "a:a2 c:c1", "a:a3 c:c1"]);
  });

  it("predicates see the per-key context as it was before the event", () => {
    const p = Pattern.begin<Ev, { seen: number }>("a").where((e, ctx) => e.type === "a" && ctx.context.seen >= 2);
    const { matches, store } = run({ pattern: p, context: { initial: () => ({ seen: 0 }), update: (c) => ({ seen: c.seen + 1 }) } }, "a1 a2 a3");
    expect(matches).toEqual(["a:a3"]);
    expect(store.get("k")?.context).toEqual({ seen: 3 });
  });

  it("rejects bad patterns", () => {
    expect(() => Pattern.begin<Ev>("a").followedBy("a")).toThrow(/duplicate/);
    expect(() => Pattern.begin<Ev>("a").times(0)).toThrow(RangeError);
    expect(() => Pattern.begin<Ev>("a").notFollowedBy("n").times(2)).toThrow(/negative/);
    expect(() => Pattern.begin<Ev>("a").within(0)).toThrow(RangeError);
    expect(() => run({ pattern: Pattern.begin<Ev>("a").notFollowedBy("n") }, "")).toThrow(/between two positive/);
  });
});
