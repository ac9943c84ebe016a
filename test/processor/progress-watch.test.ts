import { describe, expect, it } from "vitest";
import { ProgressWatch, restartDelayMs, type GroupProbe, type MemberView } from "../../src/processor/progress-watch.js";

const limits = { stallMs: 20_000, stepTimeoutMs: 60_000, restoreTimeoutMs: 300_000 };
const view = (over: Partial<MemberView> = {}): MemberView => ({
  nowMs: 100_000,
  startedAtMs: 0,
  memberId: "m1",
  owned: new Set(["t/0", "t/1"]),
  lastProgressAtMs: 90_000,
  busySinceMs: undefined,
  restoring: false,
  ...over,
});
const probe = (lag: Record<string, number>, members = ["m1", "m2"]): GroupProbe => ({ lag: new Map(Object.entries(lag)), members });

describe("progress watch", () => {
  it("is content while the member commits, however far behind it is", () => {
    expect(new ProgressWatch(limits).judge(view(), probe({ "t/0": 50_000, "t/1": 0 })).kind).toBe("ok");
  });

  it("restarts a member that owns waiting records and committed nothing for the stall time", () => {
    const verdict = new ProgressWatch(limits).judge(view({ lastProgressAtMs: 70_000 }), probe({ "t/0": 0, "t/1": 7 }));
    expect(verdict).toEqual({ kind: "restart", reason: "partitions t/1 have records waiting and nothing was committed for 30000 ms" });
  });

  it("counts one offset behind as caught up (a transaction's commit marker is never consumed)", () => {
    expect(new ProgressWatch(limits).judge(view({ lastProgressAtMs: 0 }), probe({ "t/0": 1, "t/1": 1 })).kind).toBe("ok");
  });

  it("leaves partitions another member owns to that member", () => {
    expect(new ProgressWatch(limits).judge(view({ lastProgressAtMs: 0 }), probe({ "t/2": 900 })).kind).toBe("ok");
  });

  it("restarts a member missing from its group while records wait, once that lasted the stall time", () => {
    const watch = new ProgressWatch(limits);
    const gone = probe({ "t/0": 5_000 }, []);
    expect(watch.judge(view({ nowMs: 100_000 }), gone).kind).toBe("ok");
    expect(watch.judge(view({ nowMs: 110_000 }), gone).kind).toBe("ok");
    expect(watch.judge(view({ nowMs: 120_001, lastProgressAtMs: 119_000 }), gone)).toEqual({
      kind: "restart",
      reason: "not a member of its consumer group for 20001 ms while records wait",
    });
  });

  it("gives a just-restarted member the stall time to join and catch up", () => {
    const watch = new ProgressWatch(limits);
    expect(watch.judge(view({ startedAtMs: 95_000, lastProgressAtMs: 0, memberId: undefined }), probe({ "t/0": 5_000 }, [])).kind).toBe("ok");
  });

  it("is fatal when a step outlives its deadline; a restore gets the longer one", () => {
    const watch = new ProgressWatch(limits);
    expect(watch.judge(view({ busySinceMs: 30_000 }), probe({})).kind).toBe("fatal");
    expect(watch.judge(view({ busySinceMs: 30_000, restoring: true }), probe({ "t/0": 9 })).kind).toBe("ok");
    expect(watch.judge(view({ busySinceMs: 50_000 }), probe({ "t/0": 9 }, [])).kind).toBe("ok");
  });

  it("backs restarts off exponentially up to a cap", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => restartDelayMs(a))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
});
