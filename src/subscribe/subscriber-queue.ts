/**
 * What a subscriber has not been able to take yet, bounded. Under the "disconnect" policy any
 * backlog beyond `maxPending` deliveries means the subscriber is too slow (the caller closes it);
 * under "conflate" only the latest delivery per key is kept (market data: a newer quote replaces
 * an older one), bounded by `maxPending` distinct keys.
 */
export type SlowPolicy = "disconnect" | "conflate";

export class SubscriberQueue<D extends { readonly key: string }> {
  private readonly list: D[] = [];
  private readonly byKey = new Map<string, D>();

  constructor(
    readonly policy: SlowPolicy,
    private readonly maxPending: number,
  ) {}

  get size(): number {
    return this.policy === "conflate" ? this.byKey.size : this.list.length;
  }

  /** Queues a delivery; false when the bound is exceeded (the subscriber must be closed). */
  push(delivery: D): boolean {
    if (this.policy === "disconnect") {
      if (this.list.length >= this.maxPending) return false;
      this.list.push(delivery);
      return true;
    }
    // Re-inserting moves the key to the back: deliveries leave in the order of their latest update.
    const had = this.byKey.delete(delivery.key);
    if (!had && this.byKey.size >= this.maxPending) return false;
    this.byKey.set(delivery.key, delivery);
    return true;
  }

  /**
   * Takes up to `max` deliveries, oldest first; with a `budget`, also no more than its bytes (but
   * always at least one), so a frame of big deliveries cannot overshoot the send buffer by much.
   */
  take(max: number, budget?: { readonly bytes: number; sizeOf(d: D): number }): D[] {
    let bytes = 0;
    const fits = (d: D, taken: number) => {
      if (taken >= max) return false;
      if (!budget) return true;
      bytes += budget.sizeOf(d);
      return taken === 0 || bytes <= budget.bytes;
    };
    if (this.policy === "disconnect") {
      let n = 0;
      while (n < this.list.length && fits(this.list[n]!, n)) n++;
      return this.list.splice(0, n);
    }
    const out: D[] = [];
    for (const [key, d] of this.byKey) {
      if (!fits(d, out.length)) break;
      out.push(d);
      this.byKey.delete(key);
    }
    return out;
  }
}
