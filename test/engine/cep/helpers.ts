import { CepOperator, type CepMatch, type CepOperatorOptions, type CepOutput } from "../../../src/engine/cep/index.js";
import type { CepKeyState } from "../../../src/engine/cep/state.js";
import { type Emitter, MemoryStore } from "../../../src/engine/types.js";

export type Emitted<O> = { stream: string; key: string; value: O; timestampMs: number };

export class ArrayEmitter<O> implements Emitter<O> {
  readonly out: Emitted<O>[] = [];
  emit(stream: string, key: string, value: O, timestampMs: number): void {
    this.out.push({ stream, key, value, timestampMs });
  }
}

/** A test event: `id` like "a1", `type` = its letters ("a"). */
export type Ev = { id: string; type: string };
export const ev = (id: string): Ev => ({ id, type: id.replace(/[0-9]/g, "") });
export const is = (type: string) => (e: Ev) => e.type === type;

/** Drives an operator over "a1 x b1 ..." (key "k", event time = index * 1000 unless `times` given). */
export function run<C = undefined, N extends string = string>(
  options: Omit<CepOperatorOptions<Ev, C, N>, "store"> & { store?: MemoryStore<CepKeyState<Ev, C>> },
  input: string,
  times?: number[],
) {
  const store = options.store ?? new MemoryStore<CepKeyState<Ev, C>>();
  const op = new CepOperator<Ev, C, N>({ ...options, store });
  const emitter = new ArrayEmitter<CepOutput<Ev, N>>();
  input
    .split(/\s+/)
    .filter(Boolean)
    .forEach((id, i) => op.process({ key: "k", value: ev(id), timestampMs: times?.[i] ?? i * 1000 }, emitter));
  return { op, store, emitter, matches: matchIds(emitter.out) };
}

/** Matches as "stage:id,id stage:id" strings, in emission order. */
export function matchIds<N extends string>(out: ReadonlyArray<Emitted<CepOutput<Ev, N>>>): string[] {
  return out
    .filter((o): o is Emitted<CepMatch<Ev, N>> => o.value.kind === "match")
    .map((o) =>
      Object.entries(o.value.events as Record<string, readonly Ev[]>)
        .map(([stage, events]) => `${stage}:${events.map((e) => e.id).join(",")}`)
        .join(" "),
    );
}
