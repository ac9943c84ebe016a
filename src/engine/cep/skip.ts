/**
 * After-match skip strategies (as in FlinkCEP): once a match is emitted, which other partial
 * matches of the same key (and other matches completed by the same event) are discarded.
 * Plain data, so a pattern stays inspectable and the strategy needs no state of its own.
 */

export type AfterMatchSkipStrategy =
  /** Keep everything: every possible match is emitted. */
  | { readonly kind: "noSkip" }
  /** Discard partial matches that started with the same event as the emitted match. */
  | { readonly kind: "skipToNext" }
  /** Discard partial matches that started at or before the emitted match's last event. */
  | { readonly kind: "skipPastLastEvent" };

export const AfterMatchSkip = {
  noSkip: (): AfterMatchSkipStrategy => ({ kind: "noSkip" }),
  skipToNext: (): AfterMatchSkipStrategy => ({ kind: "skipToNext" }),
  skipPastLastEvent: (): AfterMatchSkipStrategy => ({ kind: "skipPastLastEvent" }),
} as const;

/** The event sequence numbers a strategy looks at: of the emitted match and of a candidate. */
export type SkipSpan = { readonly startSeq: number; readonly lastSeq: number };

/** Whether `candidate` (a partial match, or a match completed by the same event) is discarded after `emitted`. */
export function discardedBy(strategy: AfterMatchSkipStrategy, emitted: SkipSpan, candidate: SkipSpan): boolean {
  switch (strategy.kind) {
    case "noSkip":
      return false;
    case "skipToNext":
      return candidate.startSeq === emitted.startSeq;
    case "skipPastLastEvent":
      return candidate.startSeq <= emitted.lastSeq;
  }
}
