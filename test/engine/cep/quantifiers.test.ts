import { describe, expect, it } from "vitest";
import { Pattern } from "../../../src/engine/cep/index.js";
import { type Ev, is, run } from "./helpers.js";

describe("CEP quantifiers", () => {
  it("times(n): exactly n events, relaxed inside the loop", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).times(3);
    expect(run({ pattern: p }, "a1 x1 a2 a3 a4").matches).toEqual(["a:a1,a2,a3", "a:a2,a3,a4"]);
  });

  it("times(n) before a following stage", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).times(2).followedBy("c").where(is("c"));
    expect(run({ pattern: p }, "a1 a2 a3 c1").matches).toEqual(["a:a1,a2 c:c1", "a:a2,a3 c:c1"]);
  });

  it("timesOrMore(n) as the last stage: a match each time a run reaches n or more", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).timesOrMore(2);
    expect(run({ pattern: p }, "a1 a2 a3").matches).toEqual(["a:a1,a2", "a:a1,a2,a3", "a:a2,a3"]);
  });

  it("oneOrMore in the middle: every way to leave the loop (longer loop first)", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore().followedBy("c").where(is("c"));
    expect(run({ pattern: p }, "a1 b1 x1 b2 c1").matches).toEqual(["a:a1 b:b1,b2 c:c1", "a:a1 b:b1 c:c1"]);
  });

  it("next + times: strict to the first event of the loop, relaxed inside it", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).next("b").where(is("b")).times(2);
    expect(run({ pattern: p }, "a1 b1 x1 b2").matches).toEqual(["a:a1 b:b1,b2"]);
    expect(run({ pattern: p }, "a1 x1 b1 b2").matches).toEqual([]);
  });
});
