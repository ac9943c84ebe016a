/**
 * A typed pattern builder in the spirit of FlinkCEP. Immutable: every method returns a new
 * Pattern. `N` is the union of the (positive) stage names, so `ctx.events(name)` and a match's
 * `events[name]` are checked when the names are literal types (`Pattern.begin<T, C, "a">("a")`);
 * with `Pattern.begin<T>("a")` names are plain strings.
 *
 * Stages are "positive" (they take events into the match) or "negative" (`notNext` /
 * `notFollowedBy`: they only forbid events between the positive stages around them).
 * `where` / `or` / quantifiers apply to the most recently added stage.
 */

import { AfterMatchSkip, type AfterMatchSkipStrategy } from "./skip.js";

/** What a predicate sees besides the event: the partial match so far and the key's context. */
export interface PatternContext<T, C = undefined, N extends string = string> {
  /**
   * Events the partial match being extended has already taken into stage `name`, oldest first
   * (the event under test is not included). [] for a new match or a stage not reached yet.
   */
  events(name: N): readonly T[];
  /** The per-key context value (CepOperatorOptions.context) as it was before this event. */
  readonly context: C;
  /** The record key (partition key). */
  readonly key: string;
  /** Event time of the event under test. */
  readonly timestampMs: number;
}

export type Predicate<T, C = undefined, N extends string = string> = (event: T, ctx: PatternContext<T, C, N>) => boolean;

/** `strict`: the very next event of the key (`next`); `relaxed`: any later event, skipping others (`followedBy`). */
export type Contiguity = "strict" | "relaxed";

export type PositiveStageDef<T, C> = {
  readonly kind: "positive";
  readonly name: string;
  /** Contiguity to the previous stage (irrelevant for the first). */
  readonly contiguity: Contiguity;
  /** undefined = every event matches. */
  readonly condition: Predicate<T, C> | undefined;
  /** Events the stage takes: at least `min` (>= 1), at most `max` (Infinity = unbounded). */
  readonly min: number;
  readonly max: number;
};

export type NegativeStageDef<T, C> = {
  readonly kind: "negative";
  readonly name: string;
  /** `strict` = notNext (only the event right after the previous stage), `relaxed` = notFollowedBy. */
  readonly contiguity: Contiguity;
  readonly condition: Predicate<T, C> | undefined;
};

export type StageDef<T, C> = PositiveStageDef<T, C> | NegativeStageDef<T, C>;

export class Pattern<T, C = undefined, N extends string = string> {
  /** Phantom: carries the stage-name union for type checking only. */
  declare readonly __stageNames?: N;

  private constructor(
    /** Stages in order (positive and negative). */
    readonly stages: ReadonlyArray<StageDef<T, C>>,
    /** The whole match must fit: last event time - first event time < withinMs. */
    readonly withinMs: number | undefined,
    readonly skipStrategy: AfterMatchSkipStrategy,
  ) {}

  /** The first stage. Takes exactly one event unless a quantifier says otherwise. */
  static begin<T, C = undefined, N extends string = string>(name: N): Pattern<T, C, N> {
    return new Pattern<T, C, N>([positive<T, C>(name, "relaxed")], undefined, AfterMatchSkip.noSkip());
  }

  /** A new stage whose first event must be the very next event of the key (strict contiguity). */
  next<M extends string>(name: M): Pattern<T, C, N | M> {
    return this.append<N | M>(positive<T, C>(name, "strict"));
  }

  /** A new stage whose first event may come after any number of non-matching events (relaxed contiguity). */
  followedBy<M extends string>(name: M): Pattern<T, C, N | M> {
    return this.append<N | M>(positive<T, C>(name, "relaxed"));
  }

  /** The event right after the previous stage's last event must not match (needs a following stage). */
  notNext(name: string): Pattern<T, C, N> {
    return this.append<N>({ kind: "negative", name, contiguity: "strict", condition: undefined });
  }

  /**
   * No event between the previous stage's last event and the next stage's first event may match
   * (needs a following stage). An event taken as the next stage's first event is not "between".
   */
  notFollowedBy(name: string): Pattern<T, C, N> {
    return this.append<N>({ kind: "negative", name, contiguity: "relaxed", condition: undefined });
  }

  /** AND a condition onto the last stage. */
  where(predicate: Predicate<T, C, N>): Pattern<T, C, N> {
    const p = predicate as Predicate<T, C>;
    return this.updateLast((stage) => {
      const prev = stage.condition;
      return { ...stage, condition: prev ? (e, ctx) => prev(e, ctx) && p(e, ctx) : p };
    });
  }

  /** OR a condition onto the last stage's condition so far: `.where(a).or(b).where(c)` = (a || b) && c. */
  or(predicate: Predicate<T, C, N>): Pattern<T, C, N> {
    const p = predicate as Predicate<T, C>;
    return this.updateLast((stage) => {
      const prev = stage.condition;
      if (!prev) throw new Error(`or() on stage "${stage.name}" needs a where() first`);
      return { ...stage, condition: (e, ctx) => prev(e, ctx) || p(e, ctx) };
    });
  }

  /** The last stage takes exactly n events (n >= 1). */
  times(n: number): Pattern<T, C, N> {
    return this.quantify(n, n);
  }

  /** The last stage takes n or more events (n >= 1). */
  timesOrMore(n: number): Pattern<T, C, N> {
    return this.quantify(n, Number.POSITIVE_INFINITY);
  }

  /** The last stage takes one or more events. */
  oneOrMore(): Pattern<T, C, N> {
    return this.timesOrMore(1);
  }

  /** The whole match must fit in `ms` of event time: last - first < ms (FlinkCEP's rule). */
  within(ms: number): Pattern<T, C, N> {
    if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`within(${ms}): must be a positive finite number of ms`);
    return new Pattern<T, C, N>(this.stages, ms, this.skipStrategy);
  }

  /** The after-match skip strategy (default noSkip). */
  afterMatch(strategy: AfterMatchSkipStrategy): Pattern<T, C, N> {
    return new Pattern<T, C, N>(this.stages, this.withinMs, strategy);
  }

  private append<M extends string>(stage: StageDef<T, C>): Pattern<T, C, M> {
    if (this.stages.some((s) => s.name === stage.name)) throw new Error(`duplicate stage name "${stage.name}"`);
    return new Pattern<T, C, M>([...this.stages, stage], this.withinMs, this.skipStrategy);
  }

  private updateLast(f: (stage: StageDef<T, C>) => StageDef<T, C>): Pattern<T, C, N> {
    const last = this.stages[this.stages.length - 1]!;
    return new Pattern<T, C, N>([...this.stages.slice(0, -1), f(last)], this.withinMs, this.skipStrategy);
  }

  private quantify(min: number, max: number): Pattern<T, C, N> {
    if (!Number.isInteger(min) || min < 1) throw new RangeError(`quantifier: ${min} must be an integer >= 1`);
    return this.updateLast((stage) => {
      if (stage.kind !== "positive") throw new Error(`quantifier on negative stage "${stage.name}"`);
      return { ...stage, min, max };
    });
  }
}

function positive<T, C>(name: string, contiguity: Contiguity): PositiveStageDef<T, C> {
  if (!name) throw new Error("stage name must be non-empty");
  return { kind: "positive", name, contiguity, condition: undefined, min: 1, max: 1 };
}
