import { describe, expect, it } from "vitest";
import { AfterMatchSkip, CepOperator, type CepOutput, Pattern } from "../../../src/engine/cep/index.js";
import type { CepKeyState } from "../../../src/engine/cep/state.js";
import { type EngineRecord, MemoryStore } from "../../../src/engine/types.js";
import { ArrayEmitter, type Ev, ev, is } from "./helpers.js";

type Ctx = { seen: number };
const pattern = Pattern.begin<Ev, Ctx>("a")
  .where((e, ctx) => e.type === "a" && ctx.context.seen > 0)
  .oneOrMore()
  .notFollowedBy("c")
  .where(is("c"))
  .followedBy("b")
  .where(is("b"))
  .within(5000)
  .afterMatch(AfterMatchSkip.skipToNext());

function makeOperator(store: MemoryStore<CepKeyState<Ev, Ctx>>) {
  return new CepOperator({
    pattern,
    store,
    maxOutOfOrdernessMs: 1500,
    maxPartialMatchesPerKey: 6,
    context: { initial: () => ({ seen: 0 }), update: (c) => ({ seen: c.seen + 1 }) },
  });
}

const ids = "a1 a2 x1 a3 b1 a4 c1 a5 a6 b2 a7 a8 a9 b3 a10 b4 a11 c2 b5 a12 b6 a13 a14 b7".split(" ");
const input: EngineRecord<Ev>[] = ids.flatMap((id, i) => {
  const jitter = [0, 900, -700, 300, -2600, 100][i % 6]!;
  const t = 10_000 + i * 700 + jitter;
  return [
    { key: "k1", value: ev(id), timestampMs: t },
    { key: i % 3 === 0 ? "k2" : "k3", value: ev(id), timestampMs: t + 50 },
  ];
});

function copyStore(from: MemoryStore<CepKeyState<Ev, Ctx>>): MemoryStore<CepKeyState<Ev, Ctx>> {
  const to = new MemoryStore<CepKeyState<Ev, Ctx>>();
  for (const [k, v] of from.entries()) to.put(k, JSON.parse(JSON.stringify(v)) as CepKeyState<Ev, Ctx>);
  return to;
}

describe("CEP state restore", () => {
  const full = (() => {
    const store = new MemoryStore<CepKeyState<Ev, Ctx>>();
    const op = makeOperator(store);
    const out = new ArrayEmitter<CepOutput<Ev>>();
    for (const r of input) op.process(r, out);
    op.advanceWatermark(Number.POSITIVE_INFINITY, out);
    return { out: out.out, state: JSON.stringify([...store.entries()]), stats: op.stats };
  })();

  it("the reference run exercises matches, late records, within expiry and the cap", () => {
    expect(full.out.filter((o) => o.value.kind === "match").length).toBe(full.stats.matches);
    expect(full.out.filter((o) => o.value.kind === "late").length).toBe(full.stats.late);
    expect(full.stats.matches).toBeGreaterThan(3);
    expect(full.stats.late).toBeGreaterThan(0);
    expect(full.stats.expired).toBeGreaterThan(0);
    expect(full.stats.droppedByCap).toBeGreaterThan(0);
  });

  for (const cut of [1, 7, 16, 25, 33, 47]) {
    it(`a new operator over a copy of the store continues identically (cut after ${cut} records)`, () => {
      const store1 = new MemoryStore<CepKeyState<Ev, Ctx>>();
      const out = new ArrayEmitter<CepOutput<Ev>>();
      const op1 = makeOperator(store1);
      for (const r of input.slice(0, cut)) op1.process(r, out);
      const store2 = copyStore(store1);
      const op2 = makeOperator(store2);
      for (const r of input.slice(cut)) op2.process(r, out);
      op2.advanceWatermark(Number.POSITIVE_INFINITY, out);
      expect(out.out).toEqual(full.out);
      expect(JSON.stringify([...store2.entries()])).toBe(full.state);
    });
  }
});
