/**
 * Aggregate functions over a window's records. The accumulator `A` is stored in a KeyValueStore,
 * so it must be plain JSON data (numbers, strings, arrays, plain objects). Functions must be pure:
 * return the new accumulator rather than relying on side effects.
 */
import type { EngineRecord } from "../types.js";

export interface AggregateFunctions<I, A, R> {
  /** The empty accumulator of a new window. */
  init(): A;
  /** Folds one record's value into the accumulator. */
  add(acc: A, value: I, record: EngineRecord<I>): A;
  /** Combines two accumulators; required for session windows (merging sessions). */
  merge?(a: A, b: A): A;
  /** The emitted result of an accumulator. */
  result(acc: A): R;
}
