/**
 * WindowedAggregate: a keyed event-time window aggregation (tumbling, hopping or session windows)
 * with bounded out-of-orderness watermarks, allowed lateness and a late-data side output.
 *
 * Semantics (watermark W means "no record earlier than W is expected"):
 * - The watermark is max(event time seen) - maxOutOfOrdernessMs, or an explicit advanceWatermark,
 *   whichever is further; it never moves back. A record is processed against the watermark before
 *   it, then the watermark advances.
 * - A window [start, end) completes when W >= end: its result is emitted as `final` (or `update`
 *   if a final was emitted before, e.g. for a merged session).
 * - A record whose window has completed but W < end + allowedLatenessMs updates the window and its
 *   result is re-emitted at once as `update`.
 * - A record that fits no window still open (every window has W >= end + allowedLatenessMs) goes
 *   to the late stream and is counted in `lateCount`. A hopping-window record that still fits some
 *   of its windows updates those and is not late.
 * - emit "early" additionally emits an `early` result on every change to an incomplete window.
 * - Window state is purged once W >= end + allowedLatenessMs.
 * - Emissions of one watermark advance are ordered by window end, then key, then window start.
 *   Result records carry timestamp end - 1 (the last instant in the window); late records keep theirs.
 */
import type { Emitter, EngineRecord, KeyValueStore, Operator, StoreProvider } from "../types.js";
import { assignWindows } from "./assigners.js";
import { resolveWindowedAggregateOptions, type WindowedAggregateInput, type WindowedAggregateOptions } from "./options.js";
import { PROGRESS_KEY, advanceTo, initialProgress, observeEventTime, watermarkOf, type WindowProgress } from "./progress.js";
import { byStart, dueAt, type KeyWindows, type StoredWindow } from "./state.js";
import type { WindowBounds, WindowResult, WindowResultKind, WindowedOutput } from "./window.js";

export type WindowedAggregateStores<A> = {
  /** Open windows per record key. */
  readonly windows: KeyValueStore<KeyWindows<A>>;
  /** Watermark, max event time and late count (one entry). */
  readonly progress: KeyValueStore<WindowProgress>;
};

export type WindowedAggregateStats = {
  readonly watermarkMs: number | null;
  readonly maxEventTimeMs: number | null;
  readonly lateCount: number;
};

/** Anything that hands out named stores (the runtime's shard, or EngineTestDriver). */
export type NamedStores = StoreProvider;

/** The two stores of a WindowedAggregate from a store provider: `${prefix}windows` and `${prefix}progress`. */
export function windowedAggregateStores<A>(stores: NamedStores, prefix = ""): WindowedAggregateStores<A> {
  return { windows: stores.store(`${prefix}windows`), progress: stores.store(`${prefix}progress`) };
}

type Emission<R> = { readonly stream: string; readonly value: WindowResult<R>; readonly timestampMs: number };

export class WindowedAggregate<I, A, R> implements Operator<I, WindowedOutput<I, R>> {
  readonly options: Readonly<WindowedAggregateOptions<I, A, R>>;
  private progress: WindowProgress;
  /** Lower bound of every stored window's due time; undefined = unknown (scan on next advance). */
  private nextDueMs: number | undefined = undefined;

  constructor(
    options: WindowedAggregateInput<I, A, R>,
    private readonly stores: WindowedAggregateStores<A>,
  ) {
    this.options = resolveWindowedAggregateOptions(options);
    this.progress = stores.progress.get(PROGRESS_KEY) ?? initialProgress;
  }

  get lateCount(): number {
    return this.progress.lateCount;
  }

  /** The current watermark; null before the first record or advance. */
  get watermarkMs(): number | null {
    return this.progress.watermarkMs;
  }

  stats(): WindowedAggregateStats {
    const { watermarkMs, maxEventTimeMs, lateCount } = this.progress;
    return { watermarkMs, maxEventTimeMs, lateCount };
  }

  process(record: EngineRecord<I>, out: Emitter<WindowedOutput<I, R>>): void {
    if (!Number.isFinite(record.timestampMs)) {
      throw new RangeError(`record timestamp must be a finite number of ms, got ${record.timestampMs}`);
    }
    const watermark = watermarkOf(this.progress);
    const before = this.stores.windows.get(record.key)?.windows ?? [];
    const applied = this.options.window.type === "session" ? this.addToSession(before, record, watermark) : this.addToFixedWindows(before, record, watermark);

    if (applied === undefined) {
      this.setProgress({ ...this.progress, lateCount: this.progress.lateCount + 1 });
      const late: WindowedOutput<I, R> = {
        kind: "late",
        key: record.key,
        value: record.value,
        timestampMs: record.timestampMs,
        watermarkMs: watermark,
      };
      out.emit(this.options.lateStream, record.key, late, record.timestampMs);
      return;
    }

    const { windows, changed } = applied;
    const emissions: Emission<R>[] = [];
    const updated = windows.map((w) => (changed.has(w) ? this.onChange(record.key, w, watermark, emissions) : w));
    this.stores.windows.put(record.key, { windows: updated });
    if (this.nextDueMs !== undefined) {
      for (const w of updated) this.nextDueMs = Math.min(this.nextDueMs, dueAt(w, this.options.allowedLatenessMs));
    }
    for (const e of emissions) out.emit(e.stream, record.key, e.value, e.timestampMs);

    const next = observeEventTime(this.progress, record.timestampMs, this.options.maxOutOfOrdernessMs);
    this.moveTo(next, out);
  }

  /** Advances the watermark (never back). Infinity (end of input) is kept as Number.MAX_SAFE_INTEGER, JSON-safe. */
  advanceWatermark(watermarkMs: number, out: Emitter<WindowedOutput<I, R>>): void {
    if (Number.isNaN(watermarkMs)) throw new RangeError("watermark must be a number");
    if (watermarkMs === Number.NEGATIVE_INFINITY) return;
    this.moveTo(advanceTo(this.progress, Math.min(watermarkMs, Number.MAX_SAFE_INTEGER)), out);
  }

  /** Adds the record to its tumbling/hopping windows; undefined if every one is past lateness. */
  private addToFixedWindows(
    before: ReadonlyArray<StoredWindow<A>>,
    record: EngineRecord<I>,
    watermark: number,
  ): { windows: StoredWindow<A>[]; changed: Set<StoredWindow<A>> } | undefined {
    const { allowedLatenessMs, aggregate } = this.options;
    const targets = assignWindows(this.options.window, record.timestampMs).filter((b) => b.endMs + allowedLatenessMs > watermark);
    if (targets.length === 0) return undefined;
    const windows = [...before];
    const changed = new Set<StoredWindow<A>>();
    for (const bounds of targets) {
      const i = windows.findIndex((w) => w.startMs === bounds.startMs);
      const current = windows[i] ?? this.newWindow(bounds);
      const next = { ...current, acc: aggregate.add(current.acc, record.value, record) };
      if (i >= 0) windows[i] = next;
      else windows.push(next);
      changed.add(next);
    }
    windows.sort(byStart);
    return { windows, changed };
  }

  /** Adds the record to its session, merging every session it bridges; undefined if too late. */
  private addToSession(
    before: ReadonlyArray<StoredWindow<A>>,
    record: EngineRecord<I>,
    watermark: number,
  ): { windows: StoredWindow<A>[]; changed: Set<StoredWindow<A>> } | undefined {
    const { allowedLatenessMs, aggregate } = this.options;
    const [own] = assignWindows(this.options.window, record.timestampMs) as [WindowBounds];
    const overlapping = before.filter((w) => w.startMs < own.endMs && own.startMs < w.endMs);
    if (overlapping.length === 0 && own.endMs + allowedLatenessMs <= watermark) return undefined;

    const startMs = Math.min(own.startMs, ...overlapping.map((w) => w.startMs));
    const endMs = Math.max(own.endMs, ...overlapping.map((w) => w.endMs));
    const first = overlapping[0];
    let acc = first === undefined ? aggregate.init() : first.acc;
    for (const w of overlapping.slice(1)) acc = aggregate.merge!(acc, w.acc); // merge: checked at construction
    acc = aggregate.add(acc, record.value, record);

    const same = overlapping.find((w) => w.startMs === startMs && w.endMs === endMs);
    const supersedes: WindowBounds[] = [];
    for (const w of overlapping) {
      supersedes.push(...(w.supersedes ?? []));
      if (w !== same && w.emitted) supersedes.push({ startMs: w.startMs, endMs: w.endMs });
    }
    supersedes.sort(byStart);
    const merged: StoredWindow<A> = {
      startMs,
      endMs,
      acc,
      fired: overlapping.some((w) => w.fired),
      pending: overlapping.some((w) => w.pending),
      emitted: same?.emitted ?? false,
      ...(supersedes.length > 0 ? { supersedes } : {}),
    };
    const windows = [...before.filter((w) => !overlapping.includes(w)), merged].sort(byStart);
    return { windows, changed: new Set([merged]) };
  }

  private newWindow(bounds: WindowBounds): StoredWindow<A> {
    return {
      startMs: bounds.startMs,
      endMs: bounds.endMs,
      acc: this.options.aggregate.init(),
      fired: false,
      pending: false,
      emitted: false,
    };
  }

  /** A window changed by a record: emit now (complete window, or early mode) or mark pending. */
  private onChange(key: string, w: StoredWindow<A>, watermark: number, emissions: Emission<R>[]): StoredWindow<A> {
    if (w.endMs <= watermark) return this.complete(key, w, emissions);
    if (this.options.emit === "early") {
      emissions.push(this.emission(key, w, "early"));
      return { ...withoutSupersedes(w), pending: true, emitted: true };
    }
    return { ...w, pending: true };
  }

  /** Emits a window's complete result (final the first time, update after). */
  private complete(key: string, w: StoredWindow<A>, emissions: Emission<R>[]): StoredWindow<A> {
    emissions.push(this.emission(key, w, w.fired ? "update" : "final"));
    return { ...withoutSupersedes(w), fired: true, pending: false, emitted: true };
  }

  private emission(key: string, w: StoredWindow<A>, kind: WindowResultKind): Emission<R> {
    const value: WindowResult<R> = {
      kind,
      key,
      windowStartMs: w.startMs,
      windowEndMs: w.endMs,
      result: this.options.aggregate.result(w.acc),
      ...(w.supersedes !== undefined && w.supersedes.length > 0 ? { supersedes: w.supersedes } : {}),
    };
    return { stream: this.options.resultsStream, value, timestampMs: w.endMs - 1 };
  }

  private setProgress(next: WindowProgress): void {
    this.progress = next;
    this.stores.progress.put(PROGRESS_KEY, next);
  }

  /** Stores new progress; when the watermark moved, fires complete windows and purges expired ones. */
  private moveTo(next: WindowProgress, out: Emitter<WindowedOutput<I, R>>): void {
    if (next === this.progress) return;
    const moved = next.watermarkMs !== this.progress.watermarkMs;
    this.setProgress(next);
    if (moved) this.onWatermark(watermarkOf(next), out);
  }

  private onWatermark(watermark: number, out: Emitter<WindowedOutput<I, R>>): void {
    if (this.nextDueMs !== undefined && this.nextDueMs > watermark) return;
    const { allowedLatenessMs } = this.options;
    const emissions: Array<Emission<R> & { key: string }> = [];
    let nextDueMs = Number.POSITIVE_INFINITY;
    for (const [key, state] of this.stores.windows.entries()) {
      let changed = false;
      const kept: StoredWindow<A>[] = [];
      for (const w of state.windows) {
        let current = w;
        if (current.pending && current.endMs <= watermark) {
          const fired: Emission<R>[] = [];
          current = this.complete(key, current, fired);
          for (const e of fired) emissions.push({ ...e, key });
          changed = true;
        }
        if (current.endMs + allowedLatenessMs <= watermark) {
          changed = true;
          continue;
        }
        kept.push(current);
        nextDueMs = Math.min(nextDueMs, dueAt(current, allowedLatenessMs));
      }
      if (!changed) continue;
      if (kept.length === 0) this.stores.windows.delete(key);
      else this.stores.windows.put(key, { windows: kept });
    }
    this.nextDueMs = nextDueMs;
    emissions.sort(
      (a, b) => a.value.windowEndMs - b.value.windowEndMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.value.windowStartMs - b.value.windowStartMs,
    );
    for (const e of emissions) out.emit(e.stream, e.key, e.value, e.timestampMs);
  }
}

function withoutSupersedes<A>(w: StoredWindow<A>): StoredWindow<A> {
  if (w.supersedes === undefined) return w;
  const { supersedes: _, ...rest } = w;
  return rest;
}
