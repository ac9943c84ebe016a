import { describe, expect, it } from "vitest";
import { AfterMatchSkip, Pattern } from "../../../src/engine/cep/index.js";
import { type Ev, is, run } from "./helpers.js";

const bPlusC = Pattern.begin<Ev>("b").where(is("b")).oneOrMore().followedBy("c").where(is("c"));
const input = "b1 b2 b3 c1 b4 c2";

describe("CEP after-match skip strategies (pattern b+ c on b1 b2 b3 c1 b4 c2)", () => {
  it("noSkip: every match, earlier start first, longer loop first", () => {
    expect(run({ pattern: bPlusC.afterMatch(AfterMatchSkip.noSkip()) }, input).matches).toEqual([
      "b:b1,b2,b3 c:c1",
      "b:b1,b2 c:c1",
      "b:b1 c:c1",
      "b:b2,b3 c:c1",
      "b:b2 c:c1",
      "b:b3 c:c1",
      "b:b1,b2,b3,b4 c:c2",
      "b:b2,b3,b4 c:c2",
      "b:b3,b4 c:c2",
      "b:b4 c:c2",
    ]);
  });

  it("noSkip is the default", () => {
    expect(run({ pattern: bPlusC }, input).matches).toHaveLength(10);
  });

  it("skipToNext: one match per start event", () => {
    expect(run({ pattern: bPlusC.afterMatch(AfterMatchSkip.skipToNext()) }, input).matches).toEqual([
      "b:b1,b2,b3 c:c1",
      "b:b2,b3 c:c1",
      "b:b3 c:c1",
      "b:b4 c:c2",
    ]);
  });

  it("skipPastLastEvent: matches never share events", () => {
    const { matches, op } = run({ pattern: bPlusC.afterMatch(AfterMatchSkip.skipPastLastEvent()) }, input);
    expect(matches).toEqual(["b:b1,b2,b3 c:c1", "b:b4 c:c2"]);
    expect(op.partialMatchCount("k")).toBe(0);
  });
});
