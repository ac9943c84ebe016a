/**
 * The CEP operator's per-key state: plain JSON (numbers, strings, arrays, the user's values),
 * so the runtime can write it to the changelog and restore it. No closures: partial matches
 * refer to events by sequence number, and the events they need are kept once, in `events`.
 */

import type { RunState, SequencedEvent } from "./nfa.js";

export type CepKeyState<T, C> = {
  /** Highest event time seen for the key; null before the first record. */
  readonly maxTs: number | null;
  /** Sequence number of the next event processed (consecutive numbers = strict contiguity). */
  readonly nextSeq: number;
  /** Records waiting for the watermark, in (event time, arrival) order. */
  readonly pending: ReadonlyArray<{ readonly ts: number; readonly value: T }>;
  /** Processed events still referenced by a partial match, by ascending seq. */
  readonly events: ReadonlyArray<SequencedEvent<T>>;
  /** Partial matches, oldest start first. */
  readonly runs: ReadonlyArray<RunState>;
  /** The per-key context value (CepOperatorOptions.context); undefined without one. */
  readonly context: C;
  /** Partial matches dropped by the caps (maxPartialMatchesPerKey, maxEventsPerPartialMatch). */
  readonly droppedByCap: number;
};

export function initialKeyState<T, C>(context: C): CepKeyState<T, C> {
  return { maxTs: null, nextSeq: 0, pending: [], events: [], runs: [], context, droppedByCap: 0 };
}

/** Inserts after every record with the same or an earlier time (stable: arrival order on ties). */
export function insertPending<T>(pending: CepKeyState<T, unknown>["pending"], record: { ts: number; value: T }): Array<{ ts: number; value: T }> {
  let i = pending.length;
  while (i > 0 && pending[i - 1]!.ts > record.ts) i--;
  return [...pending.slice(0, i), record, ...pending.slice(i)];
}
