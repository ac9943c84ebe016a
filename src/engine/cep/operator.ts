/**
 * CepOperator: evaluates a compiled pattern per key, in event-time order.
 *
 * Ordering: records are buffered per key until the key's watermark passes them, then fed to
 * the NFA in (event time, arrival) order. A key's watermark is the larger of
 * (highest event time seen for the key - maxOutOfOrdernessMs) and the last watermark given to
 * advanceWatermark. Records earlier than it are late: emitted on the late stream, not matched.
 * (Unlike the window operators, the bounded-out-of-orderness part is per key: it lives in the
 * key's own state, so one busy key does not make another key's records late.)
 *
 * Bounds: a partial match is dropped once event time (the event being processed, or the
 * watermark) is `within` or more past its first event; at most maxPartialMatchesPerKey
 * partial matches are kept per key (the oldest are dropped and counted in droppedByCap), and a
 * partial match may hold at most maxEventsPerPartialMatch events. Events are kept only while a
 * partial match refers to them. The per-key `context` fold is bounded by what the user keeps.
 */

import type { Emitter, EngineRecord, KeyValueStore, Operator } from "../types.js";
import { afterMatch, compile, type Nfa, type RunState, type SequencedEvent, step } from "./nfa.js";
import type { Pattern } from "./pattern.js";
import { type CepKeyState, initialKeyState, insertPending } from "./state.js";

/** One completed match: the events by stage name, in order. Emitted at `endMs`. */
export type CepMatch<T, N extends string = string> = {
  readonly kind: "match";
  readonly key: string;
  readonly events: Readonly<Record<N, readonly T[]>>;
  /** Event time of the first and the last event of the match. */
  readonly startMs: number;
  readonly endMs: number;
};

/** A record that arrived after the key's watermark had passed its event time. */
export type CepLateRecord<T> = {
  readonly kind: "late";
  readonly key: string;
  readonly value: T;
  readonly timestampMs: number;
  readonly watermarkMs: number;
};

export type CepOutput<T, N extends string = string> = CepMatch<T, N> | CepLateRecord<T>;

/** A per-key value folded over the key's events (in event-time order, after the NFA saw each one). */
export type CepContextFold<T, C> = {
  initial(key: string): C;
  update(context: C, event: T, timestampMs: number, key: string): C;
};

export type CepOperatorOptions<T, C, N extends string> = {
  readonly pattern: Pattern<T, C, N>;
  readonly store: KeyValueStore<CepKeyState<T, C>>;
  /** Default 0: records must arrive in event-time order per key (ties in any order). */
  readonly maxOutOfOrdernessMs?: number;
  /** Default 1000. */
  readonly maxPartialMatchesPerKey?: number;
  /** Default 10_000. */
  readonly maxEventsPerPartialMatch?: number;
  /** The value predicates see as ctx.context; without it, ctx.context is undefined. */
  readonly context?: CepContextFold<T, C>;
  /** Default "matches". */
  readonly matchesStream?: string;
  /** Default "late". */
  readonly lateStream?: string;
};

/** Counters since this operator instance was created (not persisted). */
export type CepStats = {
  matches: number;
  late: number;
  /** Partial matches dropped because `within` had passed. */
  expired: number;
  /** Partial matches dropped by the caps. */
  droppedByCap: number;
};

export class CepOperator<T, C = undefined, N extends string = string> implements Operator<T, CepOutput<T, N>> {
  private readonly nfa: Nfa<T, C>;
  private readonly store: KeyValueStore<CepKeyState<T, C>>;
  private readonly maxOutOfOrdernessMs: number;
  private readonly maxRuns: number;
  private readonly maxEvents: number;
  private readonly fold: CepContextFold<T, C> | undefined;
  private readonly matchesStream: string;
  private readonly lateStream: string;
  private globalWatermarkMs = Number.NEGATIVE_INFINITY;
  private readonly counters: CepStats = { matches: 0, late: 0, expired: 0, droppedByCap: 0 };

  constructor(options: CepOperatorOptions<T, C, N>) {
    this.nfa = compile(options.pattern);
    this.store = options.store;
    this.maxOutOfOrdernessMs = options.maxOutOfOrdernessMs ?? 0;
    this.maxRuns = options.maxPartialMatchesPerKey ?? 1000;
    this.maxEvents = options.maxEventsPerPartialMatch ?? 10_000;
    this.fold = options.context;
    this.matchesStream = options.matchesStream ?? "matches";
    this.lateStream = options.lateStream ?? "late";
    if (!Number.isFinite(this.maxOutOfOrdernessMs) || this.maxOutOfOrdernessMs < 0) {
      throw new RangeError("maxOutOfOrdernessMs must be a finite number >= 0");
    }
    if (!Number.isInteger(this.maxRuns) || this.maxRuns < 1) throw new RangeError("maxPartialMatchesPerKey must be an integer >= 1");
    if (!Number.isInteger(this.maxEvents) || this.maxEvents < 1) throw new RangeError("maxEventsPerPartialMatch must be an integer >= 1");
  }

  get stats(): Readonly<CepStats> {
    return { ...this.counters };
  }

  /** Partial matches currently kept for `key`. */
  partialMatchCount(key: string): number {
    return this.store.get(key)?.runs.length ?? 0;
  }

  process(record: EngineRecord<T>, out: Emitter<CepOutput<T, N>>): void {
    const { key, value, timestampMs: ts } = record;
    const state = this.load(key);
    const watermarkMs = this.watermarkOf(state);
    if (ts < watermarkMs) {
      this.counters.late++;
      out.emit(this.lateStream, key, { kind: "late", key, value, timestampMs: ts, watermarkMs }, ts);
      return;
    }
    const observed: CepKeyState<T, C> = {
      ...state,
      maxTs: state.maxTs === null ? ts : Math.max(state.maxTs, ts),
      pending: insertPending(state.pending, { ts, value }),
    };
    this.store.put(key, this.release(key, observed, out) ?? observed);
  }

  advanceWatermark(watermarkMs: number, out: Emitter<CepOutput<T, N>>): void {
    if (watermarkMs <= this.globalWatermarkMs) return;
    this.globalWatermarkMs = watermarkMs;
    for (const [key, state] of this.store.entries()) {
      if (state.pending.length === 0 && state.runs.length === 0) continue;
      const released = this.release(key, state, out);
      if (released) this.store.put(key, released);
    }
  }

  private load(key: string): CepKeyState<T, C> {
    return this.store.get(key) ?? initialKeyState<T, C>(this.fold ? this.fold.initial(key) : (undefined as C));
  }

  private watermarkOf(state: CepKeyState<T, C>): number {
    const own = state.maxTs === null ? Number.NEGATIVE_INFINITY : state.maxTs - this.maxOutOfOrdernessMs;
    return Math.max(own, this.globalWatermarkMs);
  }

  /** Processes the pending records the watermark has passed and expires runs; undefined = no change. */
  private release(key: string, state: CepKeyState<T, C>, out: Emitter<CepOutput<T, N>>): CepKeyState<T, C> | undefined {
    const watermarkMs = this.watermarkOf(state);
    let ready = 0;
    while (ready < state.pending.length && state.pending[ready]!.ts <= watermarkMs) ready++;
    let s = state;
    for (const record of state.pending.slice(0, ready)) s = this.processEvent(key, s, record.ts, record.value, out);
    const runs = this.expire(s.runs, watermarkMs);
    if (ready === 0 && runs.length === s.runs.length) return undefined;
    return { ...s, pending: state.pending.slice(ready), runs, events: referenced(s.events, runs) };
  }

  private expire(runs: ReadonlyArray<RunState>, nowMs: number): ReadonlyArray<RunState> {
    const within = this.nfa.withinMs;
    if (within === undefined) return runs;
    const kept = runs.filter((r) => nowMs - r.startTs < within);
    this.counters.expired += runs.length - kept.length;
    return kept;
  }

  private processEvent(key: string, state: CepKeyState<T, C>, ts: number, value: T, out: Emitter<CepOutput<T, N>>): CepKeyState<T, C> {
    const ev: SequencedEvent<T> = { seq: state.nextSeq, ts, value };
    const byseq = new Map<number, SequencedEvent<T>>(state.events.map((e) => [e.seq, e]));
    byseq.set(ev.seq, ev);
    const valueOf = (seq: number): T => {
      const e = byseq.get(seq);
      if (!e) throw new Error(`CEP state for key "${key}" lost event ${seq}`);
      return e.value;
    };
    const live = this.expire(state.runs, ts);
    const stepped = step(this.nfa, live, ev, { key, context: state.context, valueOf });
    const { emitted, runs: afterSkip } = afterMatch(this.nfa.skip, stepped.completed, stepped.runs);
    for (const match of emitted) {
      this.counters.matches++;
      out.emit(this.matchesStream, key, this.toMatch(key, match, byseq), ts);
    }
    let runs = afterSkip.filter((r) => r.path.length <= this.maxEvents);
    let dropped = afterSkip.length - runs.length;
    if (runs.length > this.maxRuns) {
      dropped += runs.length - this.maxRuns;
      runs = runs.slice(runs.length - this.maxRuns); // runs are oldest-start first
    }
    this.counters.droppedByCap += dropped;
    return {
      ...state,
      nextSeq: ev.seq + 1,
      runs,
      events: referenced([...state.events, ev], runs),
      context: this.fold ? this.fold.update(state.context, value, ts, key) : state.context,
      droppedByCap: state.droppedByCap + dropped,
    };
  }

  private toMatch(key: string, run: RunState, byseq: ReadonlyMap<number, SequencedEvent<T>>): CepMatch<T, N> {
    const events: Record<string, T[]> = {};
    for (const stage of this.nfa.stages) events[stage.name] = [];
    for (const [stage, seq] of run.path) events[this.nfa.stages[stage]!.name]!.push(byseq.get(seq)!.value);
    const lastSeq = run.path[run.path.length - 1]![1];
    return { kind: "match", key, events: events as Record<N, T[]>, startMs: run.startTs, endMs: byseq.get(lastSeq)!.ts };
  }
}

/** The events some run still refers to. */
function referenced<T>(events: ReadonlyArray<SequencedEvent<T>>, runs: ReadonlyArray<RunState>): SequencedEvent<T>[] {
  const seqs = new Set<number>();
  for (const run of runs) for (const [, seq] of run.path) seqs.add(seq);
  return events.filter((e) => seqs.has(e.seq));
}
