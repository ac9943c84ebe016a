import { describe, expect, it } from "vitest";
import { CepOperator, type CepOutput, Pattern } from "../../../src/engine/cep/index.js";
import type { CepKeyState } from "../../../src/engine/cep/state.js";
import { MemoryStore } from "../../../src/engine/types.js";
import { ArrayEmitter, type Ev, ev, is, matchIds, run } from "./helpers.js";

const strict = Pattern.begin<Ev>("a").where(is("a")).next("b").where(is("b"));
const relaxed = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b"));

describe("CEP contiguity", () => {
  it("next: the following stage must take the very next event", () => {
    expect(run({ pattern: strict }, "a1 b1").matches).toEqual(["a:a1 b:b1"]);
    expect(run({ pattern: strict }, "a1 x1 b1").matches).toEqual([]);
    expect(run({ pattern: strict }, "a1 a2 b1").matches).toEqual(["a:a2 b:b1"]);
  });

  it("followedBy: non-matching events are skipped, matching ones are taken (not skipped)", () => {
    expect(run({ pattern: relaxed }, "a1 x1 b1").matches).toEqual(["a:a1 b:b1"]);
    expect(run({ pattern: relaxed }, "a1 a2 x1 b1").matches).toEqual(["a:a1 b:b1", "a:a2 b:b1"]);
    expect(run({ pattern: relaxed }, "a1 b1 b2").matches).toEqual(["a:a1 b:b1"]);
  });

  it("emits on the matches stream, keyed, at the last event's time, with start and end times", () => {
    const { emitter } = run({ pattern: relaxed }, "a1 x1 b1");
    expect(emitter.out).toEqual([
      {
        stream: "matches",
        key: "k",
        timestampMs: 2000,
        value: { kind: "match", key: "k", events: { a: [ev("a1")], b: [ev("b1")] }, startMs: 0, endMs: 2000 },
      },
    ]);
  });

  it("contiguity is per key: other keys' events in between do not break next", () => {
    const op = new CepOperator({ pattern: strict, store: new MemoryStore<CepKeyState<Ev, undefined>>() });
    const em = new ArrayEmitter<CepOutput<Ev>>();
    op.process({ key: "k1", value: ev("a1"), timestampMs: 0 }, em);
    op.process({ key: "k2", value: ev("x1"), timestampMs: 1 }, em);
    op.process({ key: "k2", value: ev("a2"), timestampMs: 2 }, em);
    op.process({ key: "k1", value: ev("b1"), timestampMs: 3 }, em);
    op.process({ key: "k2", value: ev("x2"), timestampMs: 4 }, em);
    op.process({ key: "k2", value: ev("b2"), timestampMs: 5 }, em);
    expect(matchIds(em.out)).toEqual(["a:a1 b:b1"]);
    expect(em.out.map((o) => o.key)).toEqual(["k1"]);
  });
});
