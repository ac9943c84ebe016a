/**
 * Readiness that does not wait for traffic: each dependency (Redis, Kafka) is checked on a timer
 * with a deadline, so an idle process notices an outage too, and a check that hangs (a frozen
 * Redis, a SIGSTOPped broker) counts as down once its deadline passes rather than when it
 * finally fails. An outage logs one line when it starts and one when it ends, with its length.
 */
import { raceTimeout } from "../deadline.js";

export type DependencyCheck = {
  /** "redis", "kafka": the name in /readyz and in the log lines. */
  readonly name: string;
  /** Resolves when the dependency answered; rejects (or outlives the deadline) when it did not. */
  readonly check: () => Promise<void>;
};

export type OutageLog = {
  down(dependency: string, reason: string): void;
  up(dependency: string, downForMs: number): void;
};

export type DependencyProbesOptions = {
  /** Time between the end of one round of checks and the start of the next. */
  readonly intervalMs: number;
  /** A check not answered within this is a failure (its late answer is ignored). */
  readonly deadlineMs: number;
  readonly log: OutageLog;
  readonly now?: () => number;
};

type State = { up: boolean | undefined; since: number };

export class DependencyProbes {
  private readonly states = new Map<string, State>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private round: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(
    private readonly checks: readonly DependencyCheck[],
    private readonly opts: DependencyProbesOptions,
  ) {
    this.now = opts.now ?? Date.now;
    for (const c of checks) this.states.set(c.name, { up: undefined, since: this.now() });
  }

  /** Runs a first round (so readiness is known when this resolves), then keeps checking. */
  async start(): Promise<void> {
    this.running = true;
    await this.runRound();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** Per dependency, whether its latest check passed (false until one did). */
  status(): Record<string, boolean> {
    return Object.fromEntries([...this.states].map(([name, s]) => [name, s.up === true]));
  }

  get allUp(): boolean {
    return [...this.states.values()].every((s) => s.up === true);
  }

  /** Checks every dependency now (tests, and the timer). */
  checkNow(): Promise<void> {
    this.round = this.round.then(() => this.checkAll());
    return this.round;
  }

  private async runRound(): Promise<void> {
    await this.checkNow();
    if (!this.running) return;
    this.timer = setTimeout(() => void this.runRound(), this.opts.intervalMs);
    this.timer.unref?.();
  }

  private async checkAll(): Promise<void> {
    await Promise.all(
      this.checks.map(async (c) => {
        const outcome = await raceTimeout(c.check(), this.opts.deadlineMs);
        this.record(c.name, outcome === "ok" ? undefined : outcome === "timeout" ? `no answer within ${this.opts.deadlineMs} ms` : outcome.message);
      }),
    );
  }

  private record(name: string, failure: string | undefined): void {
    const state = this.states.get(name)!;
    const up = failure === undefined;
    if (state.up === up) return;
    const now = this.now();
    if (!up) this.opts.log.down(name, failure);
    // The first successful check is not a recovery: there was no outage to end.
    else if (state.up === false) this.opts.log.up(name, now - state.since);
    state.up = up;
    state.since = now;
  }
}
