import { describe, expect, it } from "vitest";
import { FailedAuthThrottle } from "../../src/security/failed-auth-throttle.js";

describe("FailedAuthThrottle", () => {
  it("turns an address away after maxFailures in a window, until the window ends; others are not affected", () => {
    const t = new FailedAuthThrottle({ maxFailures: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect(t.blockedFor("10.0.0.1", 1000 + i)).toBe(0);
      t.failed("10.0.0.1", 1000 + i);
    }
    expect(t.blockedFor("10.0.0.1", 2000)).toBe(59_000);
    expect(t.blockedFor("10.0.0.2", 2000)).toBe(0);
    expect(t.blockedFor("10.0.0.1", 61_000)).toBe(0);
    t.failed("10.0.0.1", 61_000);
    expect(t.blockedFor("10.0.0.1", 61_001)).toBe(0);
  });

  it("keeps at most maxAddresses, dropping ended windows first", () => {
    const t = new FailedAuthThrottle({ maxFailures: 1, windowMs: 1000, maxAddresses: 100 });
    for (let i = 0; i < 100; i++) t.failed(`a${i}`, 0);
    t.failed("late", 5000);
    expect(t.tracked).toBe(1);
    for (let i = 0; i < 1000; i++) t.failed(`b${i}`, 5000);
    expect(t.tracked).toBeLessThanOrEqual(100);
  });
});
