import { describe, expect, it } from "vitest";
import { TenantQuotas } from "../../src/ingest/tenant-quotas.js";
import { ResultCode } from "../../src/client/index.js";
import { ingestHarness, quoteEvent } from "../unit-fixtures/events.js";

/** A clock the test moves by hand. */
function manualClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe("TenantQuotas", () => {
  it("lets a second's worth of events through, then answers the wait until the bucket refills", () => {
    const clock = manualClock();
    const quotas = new TenantQuotas({ eventsPerSec: 100, bytesPerSec: 0 }, new Map(), clock.now);
    expect(quotas.take("a", 60, 0)).toBe(0);
    expect(quotas.take("a", 40, 0)).toBe(0);
    // Bucket at 0: the next batch still goes (no debt yet) and leaves a debt of 50 events...
    expect(quotas.take("a", 50, 0)).toBe(0);
    // ...which takes 500 ms at 100 events/s.
    expect(quotas.take("a", 1, 0)).toBe(500);
    clock.advance(499);
    expect(quotas.take("a", 1, 0)).toBe(1);
    clock.advance(1);
    expect(quotas.take("a", 1, 0)).toBe(0);
  });

  it("never holds more than one second's worth, however long the tenant was idle", () => {
    const clock = manualClock();
    const quotas = new TenantQuotas({ eventsPerSec: 10, bytesPerSec: 0 }, new Map(), clock.now);
    expect(quotas.take("a", 1, 0)).toBe(0);
    clock.advance(3_600_000);
    expect(quotas.take("a", 10, 0)).toBe(0);
    expect(quotas.take("a", 10, 0)).toBe(0);
    // Ten in debt: a full second, not the hour it was idle.
    expect(quotas.take("a", 1, 0)).toBe(1000);
  });

  it("limits bytes on their own, and a batch larger than a second's quota still goes once", () => {
    const clock = manualClock();
    const quotas = new TenantQuotas({ eventsPerSec: 0, bytesPerSec: 1000 }, new Map(), clock.now);
    expect(quotas.take("a", 1, 5000)).toBe(0);
    expect(quotas.take("a", 1, 1)).toBe(4000);
    clock.advance(4000);
    expect(quotas.take("a", 1, 1)).toBe(0);
  });

  it("keeps tenants apart and gives overridden tenants their own quota", () => {
    const clock = manualClock();
    const quotas = new TenantQuotas({ eventsPerSec: 10, bytesPerSec: 0 }, new Map([["big", { eventsPerSec: 1000, bytesPerSec: 0 }]]), clock.now);
    expect(quotas.take("a", 20, 0)).toBe(0);
    expect(quotas.take("a", 1, 0)).toBeGreaterThan(0);
    expect(quotas.take("b", 10, 0)).toBe(0);
    expect(quotas.take("big", 500, 0)).toBe(0);
    expect(quotas.take("big", 500, 0)).toBe(0);
    expect(quotas.take("big", 1, 0)).toBe(0);
    expect(quotas.take("big", 1, 0)).toBe(1);
  });

  it("limits nothing with zero quotas, and only the overridden tenant with an override", () => {
    const quotas = new TenantQuotas({ eventsPerSec: 0, bytesPerSec: 0 }, new Map([["x", { eventsPerSec: 1, bytesPerSec: 0 }]]));
    for (let i = 0; i < 100; i++) expect(quotas.take("a", 1e6, 1e9)).toBe(0);
    expect(quotas.take("x", 5, 0)).toBe(0);
    expect(quotas.take("x", 1, 0)).toBeGreaterThan(0);
  });

  it("forgets idle tenants whose buckets refilled once it holds many", () => {
    const clock = manualClock();
    const quotas = new TenantQuotas({ eventsPerSec: 1, bytesPerSec: 0 }, new Map(), clock.now);
    for (let i = 0; i < 10_000; i++) quotas.take(`t${i}`, 1, 0);
    clock.advance(1000);
    quotas.take("late", 1, 0);
    // Every earlier tenant was dropped: it starts again with a full bucket.
    expect(quotas.take("t0", 1, 0)).toBe(0);
    expect((quotas as unknown as { buckets: Map<string, unknown> }).buckets.size).toBeLessThanOrEqual(2);
  });
});

describe("IngestService: tenant quotas", () => {
  it("answers a batch over its tenant's quota RETRY_AFTER WEIR_ERR_QUOTA_EXCEEDED with the wait, publishing nothing and releasing the admission", async () => {
    const clock = manualClock();
    const h = ingestHarness({ quotas: new TenantQuotas({ eventsPerSec: 2, bytesPerSec: 0 }, new Map(), clock.now) });
    const first = await h.service.publish("acme", [quoteEvent("a"), quoteEvent("b"), quoteEvent("c")], undefined);
    expect(first.map((r) => r.code)).toEqual([ResultCode.ACK, ResultCode.ACK, ResultCode.ACK]);
    const refused = await h.service.publish("acme", [quoteEvent("d")]);
    expect(refused[0]).toMatchObject({ code: ResultCode.RETRY_AFTER, errorCode: "WEIR_ERR_QUOTA_EXCEEDED", retryAfterMs: 500 });
    expect(refused[0]!.reason).toContain("2 events/s");
    expect(h.log.calls).toHaveLength(1);
    expect(h.admission.inFlightEvents).toBe(0);
    // Another tenant is not held back by acme's debt.
    const other = await h.service.publish("globex", [quoteEvent("x")]);
    expect(other[0]!.code).toBe(ResultCode.ACK);
    clock.advance(500);
    expect((await h.service.publish("acme", [quoteEvent("d")]))[0]!.code).toBe(ResultCode.ACK);
  });
});
