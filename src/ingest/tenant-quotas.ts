/**
 * Per-tenant rate quotas of one gateway: events per second and bytes per second, each a token
 * bucket holding one second's worth. A batch may go while both buckets are not in debt, and
 * then takes its whole size, even past zero: a batch larger than a second's quota still goes
 * (there is no way to split it), and the debt it leaves makes the tenant wait for it. A refused
 * batch gets the wait until the buckets are out of debt, which the client honours as its
 * RETRY_AFTER. Refusing costs a map lookup, so a tenant flooding past its quota spends none of
 * the gateway's in-flight room that other tenants need (decision 0020).
 */

/** 0 in either field: no limit on that measure. */
export type Quota = { readonly eventsPerSec: number; readonly bytesPerSec: number };

export const NO_QUOTA: Quota = { eventsPerSec: 0, bytesPerSec: 0 };

type Bucket = { events: number; bytes: number; atMs: number };

/** Buckets kept before idle, full ones are dropped (tenants come from keys or trusted tokens). */
const PRUNE_ABOVE = 10_000;

export class TenantQuotas {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly defaults: Quota,
    private readonly overrides: ReadonlyMap<string, Quota> = new Map(),
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  quotaOf(tenant: string): Quota {
    return this.overrides.get(tenant) ?? this.defaults;
  }

  /**
   * Takes `events` and `bytes` from the tenant's quota and answers 0, or answers how many ms the
   * tenant must wait before a batch may go (nothing taken).
   */
  take(tenant: string, events: number, bytes: number): number {
    const quota = this.quotaOf(tenant);
    if (!limited(quota)) return 0;
    const now = this.nowMs();
    const bucket = this.refilled(tenant, quota, now);
    const waitMs = Math.max(debtMs(bucket.events, quota.eventsPerSec), debtMs(bucket.bytes, quota.bytesPerSec));
    if (waitMs > 0) return waitMs;
    if (quota.eventsPerSec > 0) bucket.events -= events;
    if (quota.bytesPerSec > 0) bucket.bytes -= bytes;
    return 0;
  }

  private refilled(tenant: string, quota: Quota, now: number): Bucket {
    let bucket = this.buckets.get(tenant);
    if (!bucket) {
      if (this.buckets.size >= PRUNE_ABOVE) this.pruneFull(now);
      bucket = { events: quota.eventsPerSec, bytes: quota.bytesPerSec, atMs: now };
      this.buckets.set(tenant, bucket);
      return bucket;
    }
    const seconds = Math.max(0, now - bucket.atMs) / 1000;
    bucket.events = Math.min(quota.eventsPerSec, bucket.events + seconds * quota.eventsPerSec);
    bucket.bytes = Math.min(quota.bytesPerSec, bucket.bytes + seconds * quota.bytesPerSec);
    bucket.atMs = now;
    return bucket;
  }

  /** Forgets tenants whose buckets have refilled: they would start full anyway. */
  private pruneFull(now: number): void {
    for (const [tenant, bucket] of this.buckets) {
      const quota = this.quotaOf(tenant);
      const seconds = (now - bucket.atMs) / 1000;
      if (bucket.events + seconds * quota.eventsPerSec >= quota.eventsPerSec && bucket.bytes + seconds * quota.bytesPerSec >= quota.bytesPerSec)
        this.buckets.delete(tenant);
    }
  }
}

const limited = (q: Quota) => q.eventsPerSec > 0 || q.bytesPerSec > 0;

/**
 * How long a bucket at `level` takes to be out of debt at `perSec` (0 when it is not in debt or
 * unlimited), in whole ms. Refills add float dust (-50 + 49.9 = -0.1000000000000014, -50 + 50 may
 * be -1e-15): a level within a millionth of an event or byte of a whole wait counts as that wait.
 */
const DUST = 1e-6;
const debtMs = (level: number, perSec: number) => (perSec > 0 && level < -DUST ? Math.ceil(((-level - DUST) / perSec) * 1000) : 0);
