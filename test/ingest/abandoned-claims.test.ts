import { describe, expect, it } from "vitest";
import { AbandonedClaims } from "../../src/ingest/abandoned-claims.js";
import { inProgressRetryMs, MAX_IN_PROGRESS_RETRY_MS } from "../../src/ingest/ingest-service.js";
import { waitFor } from "../unit-fixtures/wait-for.js";

/** A store that refuses releases while `down` and records the ones it ran. */
function store() {
  const s = {
    down: true,
    attempts: 0,
    released: [] as string[],
    confirm: (): Promise<void> => Promise.resolve(),
    release(keys: readonly string[], token: string): Promise<void> {
      s.attempts++;
      if (s.down) return Promise.reject(new Error("Command timed out"));
      s.released.push(...keys.map((k) => `${token}:${k}`));
      return Promise.resolve();
    },
  };
  return s;
}

describe("abandoned claims", () => {
  it("are released, in the order given up, once the store answers again", async () => {
    const s = store();
    const abandoned = new AbandonedClaims(s, { retryMs: 5, maxEntries: 100 });
    abandoned.add(["a", "b"], "gw~1/1");
    abandoned.add(["c"], "gw~1/2");
    await waitFor(() => s.attempts >= 3, "a few failed attempts");
    expect(s.released).toEqual([]);
    expect(abandoned.pending).toBe(2);
    s.down = false;
    await waitFor(() => abandoned.pending === 0, "the releases");
    expect(s.released).toEqual(["gw~1/1:a", "gw~1/1:b", "gw~1/2:c"]);
    expect(abandoned.released).toBe(3);
    abandoned.close();
  });

  it("remember a bounded number of calls (older claims expire by their TTL)", () => {
    const s = store();
    const abandoned = new AbandonedClaims(s, { retryMs: 60_000, maxEntries: 3 });
    for (let i = 0; i < 10; i++) abandoned.add([`k${i}`], `t/${i}`);
    expect(abandoned.pending).toBe(3);
    abandoned.close();
  });
});

describe("RETRY_AFTER for an event in progress elsewhere", () => {
  it("grows with the age of the claim holding it, from the base delay to a cap", () => {
    expect(inProgressRetryMs(250, undefined)).toBe(250);
    expect(inProgressRetryMs(250, 100)).toBe(250);
    expect(inProgressRetryMs(250, 4_000)).toBe(1_000);
    expect(inProgressRetryMs(250, 100_000)).toBe(MAX_IN_PROGRESS_RETRY_MS);
  });
});

describe("failed confirms", () => {
  it("are retried until the store answers, so the claim does not stay pending for its TTL", async () => {
    const confirmed: string[] = [];
    let down = true;
    let attempts = 0;
    const dedup = {
      release: () => Promise.resolve(),
      confirm: (keys: readonly string[]) => {
        attempts++;
        if (down) return Promise.reject(new Error("Command timed out"));
        confirmed.push(...keys);
        return Promise.resolve();
      },
    };
    const abandoned = new AbandonedClaims(dedup, { retryMs: 5, maxEntries: 100 });
    abandoned.confirmLater(["a", "b"]);
    await waitFor(() => attempts >= 3, "a few failed confirms");
    expect(confirmed).toEqual([]);
    down = false;
    await waitFor(() => abandoned.pending === 0, "the confirm");
    expect(confirmed).toEqual(["a", "b"]);
    expect(abandoned.confirmed).toBe(2);
    abandoned.close();
  });
});
