import { describe, expect, it } from "vitest";
import { Pattern } from "../../../src/engine/cep/index.js";
import { type Ev, is, run } from "./helpers.js";

describe("CEP negative stages", () => {
  const notFollowed = Pattern.begin<Ev>("a").where(is("a")).notFollowedBy("c").where(is("c")).followedBy("b").where(is("b"));

  it("notFollowedBy: no matching event between the two stages", () => {
    expect(run({ pattern: notFollowed }, "a1 c1 b1").matches).toEqual([]);
    expect(run({ pattern: notFollowed }, "a1 x1 b1").matches).toEqual(["a:a1 b:b1"]);
    expect(run({ pattern: notFollowed }, "a1 c1 a2 b1").matches).toEqual(["a:a2 b:b1"]);
  });

  it("notFollowedBy: the gap is after the loop's last event", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).oneOrMore().notFollowedBy("c").where(is("c")).followedBy("b").where(is("b"));
    // c1 kills the runs that left the loop at a1; the loop continues with a2.
    expect(run({ pattern: p }, "a1 c1 a2 b1").matches).toEqual(["a:a1,a2 b:b1", "a:a2 b:b1"]);
  });

  it("notFollowedBy: the event taken by the next stage is not in the gap", () => {
    const p = Pattern.begin<Ev>("a")
      .where(is("a"))
      .notFollowedBy("n")
      .where((e) => e.id === "b1")
      .followedBy("b")
      .where(is("b"));
    expect(run({ pattern: p }, "a1 b1").matches).toEqual(["a:a1 b:b1"]);
  });

  it("notNext: only the event right after the previous stage", () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).notNext("c").where(is("c")).followedBy("b").where(is("b"));
    expect(run({ pattern: p }, "a1 c1 b1").matches).toEqual([]);
    expect(run({ pattern: p }, "a1 x1 c1 b1").matches).toEqual(["a:a1 b:b1"]);
  });
});
