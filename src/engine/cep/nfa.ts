/**
 * A pattern compiled to an NFA, and one NFA step over plain-JSON partial matches ("runs").
 *
 * A run is in positive stage `stage` having taken `count` (>= 1) events into it. It is either
 * - open: it may take more events into the same stage (count < max); it ignores other events
 *   (loops are relaxed inside), or
 * - closed: the stage is done (count >= min); it waits for the first event of the next stage.
 *   Under `next` (strict) that must be the very next event of the key or the run dies; under
 *   `followedBy` (relaxed) non-matching events are skipped, unless one matches a negative
 *   stage in between, which kills the run.
 * Taking an event into a stage with min <= count < max forks an open and a closed run (FlinkCEP's
 * "stay in the loop / leave it"). A matching event is always taken, never skipped (FlinkCEP's
 * followedBy, not followedByAny). Reaching count >= min in the last stage completes a match.
 * Every event matching the first stage also starts a new run.
 */

import type { Contiguity, Pattern, PatternContext, Predicate } from "./pattern.js";
import { type AfterMatchSkipStrategy, discardedBy } from "./skip.js";

export type CompiledNegative<T, C> = {
  readonly name: string;
  readonly contiguity: Contiguity;
  readonly condition: Predicate<T, C>;
};

export type CompiledStage<T, C> = {
  readonly name: string;
  readonly contiguity: Contiguity;
  readonly condition: Predicate<T, C>;
  readonly min: number;
  readonly max: number;
  /** Negative stages between this stage and the next. */
  readonly negativesAfter: ReadonlyArray<CompiledNegative<T, C>>;
};

export type Nfa<T, C> = {
  readonly stages: ReadonlyArray<CompiledStage<T, C>>;
  readonly withinMs: number | undefined;
  readonly skip: AfterMatchSkipStrategy;
  /** Positive stage name -> index; negative stage names -> -1. */
  readonly stageIndex: ReadonlyMap<string, number>;
};

/** A partial match (plain JSON). Events are referenced by their per-key sequence number. */
export type RunState = {
  readonly stage: number;
  readonly count: number;
  readonly closed: boolean;
  /** [positive stage index, event seq] per taken event, oldest first. */
  readonly path: ReadonlyArray<readonly [number, number]>;
  readonly startSeq: number;
  readonly startTs: number;
  readonly lastSeq: number;
};

/** An event as the NFA sees it: value, event time and per-key sequence number (processing order). */
export type SequencedEvent<T> = { readonly seq: number; readonly ts: number; readonly value: T };

const always = (): boolean => true;

export function compile<T, C, N extends string>(pattern: Pattern<T, C, N>): Nfa<T, C> {
  const stages: Array<CompiledStage<T, C> & { negativesAfter: CompiledNegative<T, C>[] }> = [];
  const stageIndex = new Map<string, number>();
  pattern.stages.forEach((def, i) => {
    if (def.kind === "positive") {
      stageIndex.set(def.name, stages.length);
      stages.push({
        name: def.name,
        contiguity: def.contiguity,
        condition: def.condition ?? always,
        min: def.min,
        max: def.max,
        negativesAfter: [],
      });
    } else {
      const prev = stages[stages.length - 1];
      const hasNext = pattern.stages.slice(i + 1).some((s) => s.kind === "positive");
      if (!prev || !hasNext) throw new Error(`negative stage "${def.name}" must sit between two positive stages`);
      stageIndex.set(def.name, -1);
      prev.negativesAfter.push({ name: def.name, contiguity: def.contiguity, condition: def.condition ?? always });
    }
  });
  return { stages, withinMs: pattern.withinMs, skip: pattern.skipStrategy, stageIndex };
}

export type StepEnv<T, C> = {
  readonly key: string;
  readonly context: C;
  /** Value of an earlier event referenced by a run. */
  valueOf(seq: number): T;
};

export type StepResult = {
  /** Surviving and new partial matches, oldest start first. */
  readonly runs: RunState[];
  /** Matches completed by this event, not yet filtered by the skip strategy. */
  readonly completed: RunState[];
};

/** Feeds one event to every run (callers drop runs expired by `within` first). */
export function step<T, C>(nfa: Nfa<T, C>, runs: ReadonlyArray<RunState>, ev: SequencedEvent<T>, env: StepEnv<T, C>): StepResult {
  const next: RunState[] = [];
  const completed: RunState[] = [];
  const last = nfa.stages.length - 1;

  const take = (run: RunState | undefined, stage: number, count: number): void => {
    const st = nfa.stages[stage]!;
    const base = {
      stage,
      count,
      path: [...(run?.path ?? []), [stage, ev.seq] as const],
      startSeq: run ? run.startSeq : ev.seq,
      startTs: run ? run.startTs : ev.ts,
      lastSeq: ev.seq,
    };
    if (count < st.max) next.push({ ...base, closed: false });
    if (count >= st.min) {
      if (stage === last) completed.push({ ...base, closed: true });
      else next.push({ ...base, closed: true });
    }
  };

  const contextFor = (run: RunState | undefined): PatternContext<T, C> => ({
    key: env.key,
    context: env.context,
    timestampMs: ev.ts,
    events(name: string): readonly T[] {
      const idx = nfa.stageIndex.get(name);
      if (idx === undefined) throw new Error(`unknown stage "${name}"`);
      if (!run || idx < 0) return [];
      return run.path.filter(([s]) => s === idx).map(([, seq]) => env.valueOf(seq));
    },
  });

  for (const run of runs) {
    const ctx = contextFor(run);
    if (!run.closed) {
      if (nfa.stages[run.stage]!.condition(ev.value, ctx)) take(run, run.stage, run.count + 1);
      else next.push(run);
      continue;
    }
    const following = nfa.stages[run.stage + 1]!;
    const adjacent = ev.seq === run.lastSeq + 1;
    if ((following.contiguity === "relaxed" || adjacent) && following.condition(ev.value, ctx)) {
      take(run, run.stage + 1, 1);
      continue;
    }
    if (following.contiguity === "strict") continue; // the next event did not match: dead
    const forbidden = nfa.stages[run.stage]!.negativesAfter.some((neg) => (neg.contiguity === "relaxed" || adjacent) && neg.condition(ev.value, ctx));
    if (!forbidden) next.push(run);
  }
  if (nfa.stages[0]!.condition(ev.value, contextFor(undefined))) take(undefined, 0, 1);
  return { runs: next, completed };
}

/** Deterministic match order: earlier start first, then by event sequence (longer loops first). */
export function compareRuns(a: RunState, b: RunState): number {
  if (a.startSeq !== b.startSeq) return a.startSeq - b.startSeq;
  const n = Math.min(a.path.length, b.path.length);
  for (let i = 0; i < n; i++) {
    const d = a.path[i]![1] - b.path[i]![1];
    if (d !== 0) return d;
  }
  return a.path.length - b.path.length;
}

/** Orders the completed matches and applies the skip strategy after each one emitted. */
export function afterMatch(
  strategy: AfterMatchSkipStrategy,
  completed: ReadonlyArray<RunState>,
  runs: ReadonlyArray<RunState>,
): { emitted: RunState[]; runs: RunState[] } {
  let candidates = [...completed].sort(compareRuns);
  let remaining = [...runs];
  const emitted: RunState[] = [];
  while (candidates.length > 0) {
    const match = candidates.shift()!;
    emitted.push(match);
    candidates = candidates.filter((c) => !discardedBy(strategy, match, c));
    remaining = remaining.filter((r) => !discardedBy(strategy, match, r));
  }
  return { emitted, runs: remaining };
}
