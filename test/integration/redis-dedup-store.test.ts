/** The Redis dedup adapter's Lua scripts against real Redis: claim, confirm, release, odd keys. */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { RedisDedupStore, packKeys } from "../../src/adapters/redis/redis-dedup-store.js";

let store: RedisDedupStore;
const run = `dedup-${Date.now()}-`;

beforeAll(async () => {
  store = new RedisDedupStore({ url: inject("redisUrl"), keyPrefix: `test:${run}`, dedupTtlMs: 60_000, pendingTtlMs: 30_000, commandTimeoutMs: 5000 });
  await store.connect();
});
afterAll(async () => {
  await store?.close();
});

test("keys are packed with their byte length, so any character survives", () => {
  expect(packKeys(["a", "t:1:x", "é"])).toBe("1:a5:t:1:x2:é");
});

test("a claimed key is pending for other attempts, done after confirm, claimable again after release", async () => {
  const keys = ["t:plain", "t:with:colons:12", "t:ünïcödé-🙂", "t:" + "x".repeat(200)];
  expect(await store.claim(keys, "attempt-1")).toEqual(keys.map(() => ({ kind: "claimed" })));

  const pending = await store.claim(keys, "attempt-2");
  for (const c of pending) {
    expect(c.kind).toBe("pending");
    expect(c.kind === "pending" && c.retryAfterMs).toBeGreaterThan(0);
  }

  await store.confirm(keys.slice(0, 2));
  // Another attempt's release leaves attempt-1's claims alone; attempt-1's own release frees them.
  await store.release(keys.slice(2), "attempt-2");
  expect((await store.claim(keys.slice(2), "attempt-3")).map((c) => c.kind)).toEqual(["pending", "pending"]);
  await store.release(keys.slice(2), "attempt-1");

  expect((await store.claim(keys, "attempt-4")).map((c) => c.kind)).toEqual(["done", "done", "claimed", "claimed"]);
});
