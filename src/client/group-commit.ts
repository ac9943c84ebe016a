/**
 * GroupCommitQueue: runs a store's work one job at a time, in call order, and commits the
 * mutations that queued up while a commit was in flight together, as one group (for the file
 * outbox: one write and one fdatasync for all of them, so durability costs one fsync per burst,
 * not per call). Exclusive jobs (load, close, compaction) run alone, between groups.
 */

export type GroupCommitOptions<M> = {
  /** Commits a group of one or more mutations; its outcome settles every mutation of the group. */
  commit(group: M[]): Promise<void>;
  /** What a mutation weighs; a group stops growing once it reaches maxGroupWeight (it always takes one). */
  weigh(mutation: M): number;
  maxGroupWeight: number;
  /** Runs after each group, before the next job; its failure is ignored. */
  afterGroup(): Promise<void>;
};

type Job<M> =
  | { kind: "mutation"; mutation: M; resolve(): void; reject(err: unknown): void }
  | { kind: "exclusive"; run(): Promise<unknown>; resolve(v: unknown): void; reject(err: unknown): void };

export class GroupCommitQueue<M> {
  private readonly jobs: Array<Job<M>> = [];
  private draining = false;

  constructor(private readonly opts: GroupCommitOptions<M>) {}

  /** Queues a mutation; resolves once the group it joined is committed. */
  mutate(mutation: M): Promise<void> {
    return new Promise((resolve, reject) => this.push({ kind: "mutation", mutation, resolve, reject }));
  }

  /** Queues `run` to run alone once everything queued before it is done. */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.push({ kind: "exclusive", run, resolve, reject }));
  }

  private push(job: Job<M>): void {
    this.jobs.push(job);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let job = this.jobs[0]; job !== undefined; job = this.jobs[0]) {
        if (job.kind === "exclusive") {
          this.jobs.shift();
          try {
            job.resolve(await job.run());
          } catch (err) {
            job.reject(err);
          }
          continue;
        }
        const group = this.takeGroup();
        try {
          await this.opts.commit(group.map((j) => j.mutation));
          for (const j of group) j.resolve();
        } catch (err) {
          for (const j of group) j.reject(err);
        }
        await this.opts.afterGroup().catch(() => {});
      }
    } finally {
      this.draining = false;
    }
  }

  /** The mutations at the head of the queue, up to maxGroupWeight (at least one). */
  private takeGroup(): Array<Extract<Job<M>, { kind: "mutation" }>> {
    let n = 0;
    let weight = 0;
    for (const job of this.jobs) {
      if (job.kind === "exclusive" || (n > 0 && weight >= this.opts.maxGroupWeight)) break;
      n++;
      weight += this.opts.weigh(job.mutation);
    }
    return this.jobs.splice(0, n) as Array<Extract<Job<M>, { kind: "mutation" }>>;
  }
}
