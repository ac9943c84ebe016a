/**
 * Whether a consumer group member is doing its job, judged from what the broker says (the
 * partitions' high watermarks against the group's committed offsets, and the group's members)
 * and from what the member itself did (its last committed step, the step it is in now). Pure: the
 * processor feeds it views and probes and acts on the verdict; tests feed it numbers.
 *
 * Verdicts:
 * - restart: the member is not in its group while records wait, or it owns partitions with
 *   records waiting and has committed nothing for `stallMs` (kafkajs can stop fetching after a
 *   coordinator loss and never say so: a live process doing nothing);
 * - fatal: a step has run longer than its deadline (a hung transaction or a job stuck in user
 *   code): its in-memory state cannot be trusted or reclaimed in-process, so the process exits
 *   and its supervisor starts a fresh one.
 *
 * A partition counts as waiting only when it is more than one offset behind: a transactional
 * input ends with a commit marker that no consumer ever commits past, so "1 behind" is caught up.
 */

export type MemberView = {
  readonly nowMs: number;
  /** When the member (re)started: nothing is judged stalled before stallMs after it. */
  readonly startedAtMs: number;
  /** The member's id in the group, once it joined. */
  readonly memberId: string | undefined;
  /** Partitions ("topic/partition") the member was last assigned. */
  readonly owned: ReadonlySet<string>;
  /** When the member last committed a step (or undefined: never). */
  readonly lastProgressAtMs: number | undefined;
  /** When the step in progress started (undefined: idle). */
  readonly busySinceMs: number | undefined;
  /** The step in progress restores state (it gets the longer deadline). */
  readonly restoring: boolean;
};

export type GroupProbe = {
  /** Per partition ("topic/partition") of the group's topics: high watermark minus committed offset. */
  readonly lag: ReadonlyMap<string, number>;
  /** Member ids the broker lists for the group. */
  readonly members: readonly string[];
};

export type WatchLimits = {
  readonly stallMs: number;
  readonly stepTimeoutMs: number;
  readonly restoreTimeoutMs: number;
};

export type Verdict = { readonly kind: "ok" } | { readonly kind: "restart" | "fatal"; readonly reason: string };

const OK: Verdict = { kind: "ok" };
const waiting = (lag: number | undefined) => (lag ?? 0) > 1;

export class ProgressWatch {
  /** Since when the member has been missing from its group while records wait. */
  private missingSince: number | undefined;

  constructor(private readonly limits: WatchLimits) {}

  judge(view: MemberView, probe: GroupProbe): Verdict {
    const { nowMs } = view;
    if (view.busySinceMs !== undefined) {
      const overdue = overdueStep(view, this.limits);
      if (overdue) return { kind: "fatal", reason: overdue };
      this.missingSince = undefined;
      return OK;
    }
    const anyWaiting = [...probe.lag.values()].some(waiting);
    const member = view.memberId !== undefined && probe.members.includes(view.memberId);
    if (member || !anyWaiting) this.missingSince = undefined;
    else this.missingSince ??= nowMs;
    const sinceStart = nowMs - view.startedAtMs;
    if (this.missingSince !== undefined && nowMs - this.missingSince > this.limits.stallMs && sinceStart > this.limits.stallMs) {
      return { kind: "restart", reason: `not a member of its consumer group for ${nowMs - this.missingSince} ms while records wait` };
    }
    const behind = [...view.owned].filter((p) => waiting(probe.lag.get(p)));
    if (behind.length === 0) return OK;
    const idleFor = nowMs - Math.max(view.lastProgressAtMs ?? view.startedAtMs, view.startedAtMs);
    if (idleFor > this.limits.stallMs)
      return { kind: "restart", reason: `partitions ${behind.join(",")} have records waiting and nothing was committed for ${idleFor} ms` };
    return OK;
  }

  /** Forget what was seen (after a restart). */
  reset(): void {
    this.missingSince = undefined;
  }
}

/** Why the step in progress has outlived its deadline, if it has. */
export function overdueStep(view: Pick<MemberView, "nowMs" | "busySinceMs" | "restoring">, limits: WatchLimits): string | undefined {
  if (view.busySinceMs === undefined) return undefined;
  const deadline = view.restoring ? limits.restoreTimeoutMs : limits.stepTimeoutMs;
  const busy = view.nowMs - view.busySinceMs;
  return busy > deadline ? `a ${view.restoring ? "restore" : "step"} has run for ${busy} ms (deadline ${deadline} ms)` : undefined;
}

/** Exponential backoff for restarts: base, 2×base, … up to max. */
export function restartDelayMs(attempt: number, baseMs = 1_000, maxMs = 30_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
