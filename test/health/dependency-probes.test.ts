import { describe, expect, it } from "vitest";
import { DependencyProbes } from "../../src/health/dependency-probes.js";

function harness(initial: Record<string, "ok" | "fail" | "hang">) {
  const mode = { ...initial };
  const lines: string[] = [];
  let now = 0;
  const probes = new DependencyProbes(
    Object.keys(mode).map((name) => ({
      name,
      check: () => (mode[name] === "ok" ? Promise.resolve() : mode[name] === "fail" ? Promise.reject(new Error("refused")) : new Promise<void>(() => {})),
    })),
    {
      intervalMs: 60_000,
      deadlineMs: 20,
      now: () => now,
      log: { down: (d, reason) => lines.push(`down ${d}: ${reason}`), up: (d, ms) => lines.push(`up ${d} after ${ms}`) },
    },
  );
  return { probes, mode, lines, advance: (ms: number) => (now += ms) };
}

describe("dependency probes", () => {
  it("are not ready before the first check passed, and ready after", async () => {
    const h = harness({ redis: "ok", kafka: "ok" });
    expect(h.probes.allUp).toBe(false);
    await h.probes.checkNow();
    expect(h.probes.status()).toEqual({ redis: true, kafka: true });
    expect(h.lines).toEqual([]);
  });

  it("count a check that hangs past its deadline as down, without waiting for it to fail", async () => {
    const h = harness({ redis: "ok", kafka: "ok" });
    await h.probes.checkNow();
    h.mode.redis = "hang";
    await h.probes.checkNow();
    expect(h.probes.status()).toEqual({ redis: false, kafka: true });
    expect(h.probes.allUp).toBe(false);
    expect(h.lines).toEqual(["down redis: no answer within 20 ms"]);
  });

  it("log an outage once when it starts and once when it ends, with its length", async () => {
    const h = harness({ kafka: "ok" });
    await h.probes.checkNow();
    h.mode.kafka = "fail";
    for (let i = 0; i < 5; i++) {
      h.advance(1000);
      await h.probes.checkNow();
    }
    h.mode.kafka = "ok";
    h.advance(1000);
    await h.probes.checkNow();
    await h.probes.checkNow();
    expect(h.lines).toEqual(["down kafka: refused", "up kafka after 5000"]);
    expect(h.probes.allUp).toBe(true);
  });
});
