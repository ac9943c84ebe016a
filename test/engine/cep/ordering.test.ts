import { describe, expect, it } from "vitest";
import { CepOperator, type CepOutput, Pattern } from "../../../src/engine/cep/index.js";
import type { CepKeyState } from "../../../src/engine/cep/state.js";
import { MemoryStore } from "../../../src/engine/types.js";
import { ArrayEmitter, type Ev, ev, is, matchIds } from "./helpers.js";

const strict = Pattern.begin<Ev>("a").where(is("a")).next("b").where(is("b"));

function operator(maxOutOfOrdernessMs: number) {
  const op = new CepOperator({ pattern: strict, store: new MemoryStore<CepKeyState<Ev, undefined>>(), maxOutOfOrdernessMs });
  const out = new ArrayEmitter<CepOutput<Ev>>();
  const send = (id: string, timestampMs: number, key = "k") => op.process({ key, value: ev(id), timestampMs }, out);
  return { op, out, send };
}

describe("CEP event-time ordering", () => {
  it("buffers out-of-order records until the watermark passes them, then matches in event-time order", () => {
    const { out, send } = operator(1000);
    send("b1", 1100);
    send("a1", 1000);
    expect(out.out).toEqual([]);
    send("x1", 2500); // watermark 1500: a1, b1 released in event-time order
    expect(matchIds(out.out)).toEqual(["a:a1 b:b1"]);
    expect(out.out[0]!.timestampMs).toBe(1100);
  });

  it("records behind the key's watermark go to the late stream", () => {
    const { op, out, send } = operator(1000);
    send("x1", 2500);
    send("a1", 1400);
    expect(out.out).toEqual([
      { stream: "late", key: "k", timestampMs: 1400, value: { kind: "late", key: "k", value: ev("a1"), timestampMs: 1400, watermarkMs: 1500 } },
    ]);
    send("a2", 1500); // at the watermark: not late
    expect(op.stats.late).toBe(1);
  });

  it("the bounded out-of-orderness is per key; advanceWatermark releases every key", () => {
    const { out, send, op } = operator(1000);
    send("a1", 0, "k1");
    send("b1", 10, "k1");
    send("x1", 5000, "k2"); // does not make k1's records late nor release them
    expect(out.out).toEqual([]);
    send("a2", 20, "k1");
    op.advanceWatermark(10, out);
    expect(matchIds(out.out)).toEqual(["a:a1 b:b1"]);
    expect(out.out.map((o) => o.key)).toEqual(["k1"]);
  });

  it("with maxOutOfOrdernessMs 0, in-order records are processed on arrival; ties are in arrival order", () => {
    const { out, send } = operator(0);
    send("a1", 100);
    send("b1", 100);
    expect(matchIds(out.out)).toEqual(["a:a1 b:b1"]);
  });
});
