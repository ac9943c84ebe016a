/**
 * What the cloud refused for good after the relay had acked it to a device, kept for the device
 * to read (GET /v1/refusals on the relay, with the device's own credentials): the relay's ACK
 * means "stored for the cloud", so an event the gateway later refuses (a type the cloud's grants
 * forbid, a schema the cloud has and the relay has not…) would otherwise be known only to the
 * relay's log. Bounded: the last `perTenant` refusals per device tenant, and at most `maxTenants`
 * device tenants (the one refused longest ago is forgotten first). In memory only: a relay
 * restart forgets them (the events themselves are final upstream, in the dead-letter topic).
 * Pure and portable (the relay runs on Deno).
 */

/** One refusal, as a device reads it: its own event id (not the relay's upstream id). */
export type Refusal = {
  readonly id: string;
  readonly errorCode: string;
  readonly reason: string;
  /** When the relay got the final answer (Unix ms, the relay's clock). */
  readonly atMs: number;
};

export class RefusalLog {
  /** Device tenant → its refusals, oldest first; the Map's order is the tenants' last refusal, oldest first. */
  private readonly byTenant = new Map<string, Refusal[]>();
  /** Refusals forgotten to keep the bounds (a device that reads too seldom misses these). */
  evicted = 0;

  constructor(
    private readonly perTenant: number,
    private readonly maxTenants: number,
  ) {}

  add(tenant: string, refusal: Refusal): void {
    let list = this.byTenant.get(tenant);
    if (list) this.byTenant.delete(tenant);
    else list = [];
    this.byTenant.set(tenant, list);
    list.push(refusal);
    if (list.length > this.perTenant) {
      list.splice(0, list.length - this.perTenant);
      this.evicted++;
    }
    for (const [oldest, gone] of this.byTenant) {
      if (this.byTenant.size <= this.maxTenants) break;
      this.byTenant.delete(oldest);
      this.evicted += gone.length;
    }
  }

  /** A tenant's refusals, oldest first; with `sinceMs`, those at or after it (a poller skips ids it has). */
  list(tenant: string, sinceMs = -Infinity): Refusal[] {
    return (this.byTenant.get(tenant) ?? []).filter((r) => r.atMs >= sinceMs);
  }

  /** Device tenants with refusals kept. */
  get tenants(): number {
    return this.byTenant.size;
  }
}
