/**
 * The Redis dedup adapter's Lua scripts against real Redis: claim, confirm, release, odd keys;
 * claim values "<token>@<Redis time>", gateway heartbeats, stale claims and the take-over CAS.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Redis } from "ioredis";
import { RedisDedupStore, claimValue, ownerOf, packKeys } from "../../src/adapters/redis/redis-dedup-store.js";
import type { Claim } from "../../src/ingest/ports.js";
import { waitFor } from "./support.js";

const run = `dedup-${Date.now()}-`;
const keyPrefix = `test:${run}`;
const ownerKeyPrefix = `test:${run}gw:`;
const PENDING_TTL = 30_000;
const DEDUP_TTL = 600_000;
const OWNER_TTL = 5_000;
let store: RedisDedupStore;
let redis: Redis;

const storeOptions = {
  url: inject("redisUrl"),
  keyPrefix,
  ownerKeyPrefix,
  dedupTtlMs: DEDUP_TTL,
  pendingTtlMs: PENDING_TTL,
  ownerTtlMs: OWNER_TTL,
  commandTimeoutMs: 5000,
};

beforeAll(async () => {
  store = new RedisDedupStore(storeOptions);
  await store.connect();
  redis = new Redis(inject("redisUrl"));
});
afterAll(async () => {
  await store?.close();
  redis?.disconnect();
});

/** Redis's clock in ms, as the scripts read it. */
async function redisNowMs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

const kinds = (claims: Claim[]) => claims.map((c) => c.kind);

test("keys are packed with their byte length, so any character survives", () => {
  expect(packKeys(["a", "t:1:x", "é"])).toBe("1:a5:t:1:x2:é");
});

test("the owner of a token is the part before its last slash", () => {
  expect(ownerOf("gw-1/42")).toBe("gw-1");
  expect(ownerOf("host/a-b/7")).toBe("host/a-b");
  expect(claimValue("gw-1/42", 1_700_000_000_123)).toBe("gw-1/42@1700000000123");
});

test("a claimed key is pending for other attempts, done after confirm, claimable again after release", async () => {
  const keys = ["t:plain", "t:with:colons:12", "t:ünïcödé-🙂", "t:" + "x".repeat(200)];
  expect(await store.claim(keys, "gw-a/1")).toEqual(keys.map(() => ({ kind: "claimed" })));

  const pending = await store.claim(keys, "gw-b/1");
  for (const c of pending) {
    expect(c.kind).toBe("pending");
    expect(c.kind === "pending" && c.retryAfterMs).toBeGreaterThan(PENDING_TTL - 5000);
  }

  await store.confirm(keys.slice(0, 2));
  // Another attempt's release leaves gw-a/1's claims alone; gw-a/1's own release frees them.
  await store.release(keys.slice(2), "gw-b/1");
  expect(kinds(await store.claim(keys.slice(2), "gw-b/2"))).toEqual(["pending", "pending"]);
  await store.release(keys.slice(2), "gw-a/1");

  expect(kinds(await store.claim(keys, "gw-a/2"))).toEqual(["done", "done", "claimed", "claimed"]);
});

test("a claim holds the token and Redis time, lives for the dedup TTL, and refreshes its gateway's heartbeat", async () => {
  const before = await redisNowMs();
  await store.claim(["t:value"], "gw-fmt/9");
  const after = await redisNowMs();
  const value = await redis.get(`${keyPrefix}t:value`);
  const [token, at] = value!.split("@");
  expect(token).toBe("gw-fmt/9");
  expect(Number(at)).toBeGreaterThanOrEqual(before);
  expect(Number(at)).toBeLessThanOrEqual(after);
  // No longer PX pendingTtl: an unconfirmed claim no longer expires by itself before the dedup TTL.
  expect(await redis.pttl(`${keyPrefix}t:value`)).toBeGreaterThan(PENDING_TTL);
  const heartbeat = await redis.pttl(`${ownerKeyPrefix}gw-fmt`);
  expect(heartbeat).toBeGreaterThan(0);
  expect(heartbeat).toBeLessThanOrEqual(OWNER_TTL);
});

test("a claim whose gateway has no heartbeat is stale, with its value", async () => {
  const at = await redisNowMs();
  await redis.set(`${keyPrefix}t:orphan`, claimValue("gw-dead/3", at), "PX", DEDUP_TTL);
  const [claim] = await store.claim(["t:orphan"], "gw-a/10");
  expect(claim).toEqual({ kind: "stale", value: claimValue("gw-dead/3", at) });
  // Nothing changed: the stale claim is still there for the take-over to compare.
  expect(await redis.get(`${keyPrefix}t:orphan`)).toBe(claimValue("gw-dead/3", at));
});

test("a live gateway's claim is pending while younger than the pending TTL, stale from then on", async () => {
  const now = await redisNowMs();
  await redis.set(`${ownerKeyPrefix}gw-live`, "1", "PX", 60_000);
  await redis.set(`${keyPrefix}t:young`, claimValue("gw-live/1", now - PENDING_TTL + 10_000), "PX", DEDUP_TTL);
  await redis.set(`${keyPrefix}t:old`, claimValue("gw-live/1", now - PENDING_TTL), "PX", DEDUP_TTL);
  const [young, old] = await store.claim(["t:young", "t:old"], "gw-a/11");
  expect(young!.kind).toBe("pending");
  expect(young!.kind === "pending" && young!.retryAfterMs).toBeGreaterThan(5_000);
  expect(young!.kind === "pending" && young!.retryAfterMs).toBeLessThanOrEqual(10_000);
  expect(old).toEqual({ kind: "stale", value: claimValue("gw-live/1", now - PENDING_TTL) });

  // The same young claim turns stale once its gateway's heartbeat is gone.
  await redis.del(`${ownerKeyPrefix}gw-live`);
  expect(kinds(await store.claim(["t:young"], "gw-a/12"))).toEqual(["stale"]);
});

test("a claim without a time (an older gateway's) stays pending until it expires", async () => {
  await redis.set(`${keyPrefix}t:legacy`, "gw-old/1", "PX", 20_000);
  const [claim] = await store.claim(["t:legacy"], "gw-a/13");
  expect(claim!.kind).toBe("pending");
  expect(claim!.kind === "pending" && claim!.retryAfterMs).toBeGreaterThan(10_000);
  await store.release(["t:legacy"], "gw-old/1");
  expect(kinds(await store.claim(["t:legacy"], "gw-a/14"))).toEqual(["claimed"]);
});

test("of two gateways taking over one stale claim, exactly one wins; then it owns the key", async () => {
  const keys = ["t:cas-1", "t:cas-2"];
  for (const k of keys) await redis.set(`${keyPrefix}${k}`, claimValue("gw-gone/1", 1000), "PX", DEDUP_TTL);
  const seenByB = await store.claim(keys, "gw-b/20");
  const seenByC = await store.claim(keys, "gw-c/20");
  const staleValues = seenByB.map((c) => (c.kind === "stale" ? c.value : ""));
  expect(staleValues).toEqual(keys.map(() => claimValue("gw-gone/1", 1000)));
  expect(seenByC).toEqual(seenByB);

  expect(await store.takeOver(keys, staleValues, "gw-b/21")).toEqual([true, true]);
  // C compares against the value it saw, which is gone: it loses both.
  expect(
    await store.takeOver(
      keys,
      seenByC.map((c) => (c.kind === "stale" ? c.value : "")),
      "gw-c/21",
    ),
  ).toEqual([false, false]);
  expect((await redis.get(`${keyPrefix}t:cas-1`))!.startsWith("gw-b/21@")).toBe(true);
  expect(await redis.pttl(`${keyPrefix}t:cas-1`)).toBeGreaterThan(PENDING_TTL);

  // B's claims are fresh and B heartbeats (the take-over refreshed it): pending for others.
  expect(kinds(await store.claim(keys, "gw-c/22"))).toEqual(["pending", "pending"]);
  await store.confirm(keys.slice(0, 1));
  await store.release(keys.slice(1), "gw-b/21");
  expect(kinds(await store.claim(keys, "gw-c/23"))).toEqual(["done", "claimed"]);
});

test("a take-over compares each key with its own stale value", async () => {
  await redis.set(`${keyPrefix}t:mix-1`, claimValue("gw-gone/2", 1000), "PX", DEDUP_TTL);
  await redis.set(`${keyPrefix}t:mix-2`, claimValue("gw-gone/2", 2000), "PX", DEDUP_TTL);
  const values = [claimValue("gw-gone/2", 1000), claimValue("gw-gone/2", 1000)];
  expect(await store.takeOver(["t:mix-1", "t:mix-2"], values, "gw-b/30")).toEqual([true, false]);
  expect(await redis.get(`${keyPrefix}t:mix-2`)).toBe(claimValue("gw-gone/2", 2000));
  expect(await store.takeOver(["t:missing"], [claimValue("gw-gone/2", 1000)], "gw-b/30")).toEqual([false]);
  expect(await redis.exists(`${keyPrefix}t:missing`)).toBe(0);
});

test("release compares the whole token: a token that is a prefix of the claim's does not release it", async () => {
  await store.claim(["t:rel"], "gw-r/12");
  await store.release(["t:rel"], "gw-r/1");
  await store.release(["t:rel"], "gw-r");
  expect((await redis.get(`${keyPrefix}t:rel`))!.startsWith("gw-r/12@")).toBe(true);
  await store.release(["t:rel"], "gw-r/12");
  expect(await redis.exists(`${keyPrefix}t:rel`)).toBe(0);
  // A done key is never released.
  await store.confirm(["t:rel"]);
  await store.release(["t:rel"], "d");
  expect(await redis.get(`${keyPrefix}t:rel`)).toBe("d");
});

test("a gateway's store keeps its heartbeat alive and deletes it on close: its claims turn stale at once", async () => {
  const gateway = new RedisDedupStore({ ...storeOptions, gatewayId: "gw-hb", ownerTtlMs: 600 });
  await gateway.connect();
  await waitFor(async () => (await redis.exists(`${ownerKeyPrefix}gw-hb`)) === 1, "the first heartbeat");
  // The timer refreshes it (no claims in between): its TTL jumps back up, and it never lapses.
  let refreshes = 0;
  let last = OWNER_TTL;
  await waitFor(
    async () => {
      const ttl = await redis.pttl(`${ownerKeyPrefix}gw-hb`);
      expect(ttl, "the heartbeat lapsed").toBeGreaterThan(0);
      if (ttl > last) refreshes++;
      last = ttl;
      return refreshes >= 4;
    },
    "four heartbeat refreshes",
    10_000,
  );
  await gateway.claim(["t:hb"], "gw-hb/1");
  expect(kinds(await store.claim(["t:hb"], "gw-a/40"))).toEqual(["pending"]);

  await gateway.close();
  expect(await redis.exists(`${ownerKeyPrefix}gw-hb`)).toBe(0);
  expect(kinds(await store.claim(["t:hb"], "gw-a/41"))).toEqual(["stale"]);
});

test("a claim or take-over reply without one entry per key fails the call instead of being read as claims", async () => {
  // What a connection whose replies are out of step returns: another command's reply.
  const skewed = new RedisDedupStore(storeOptions);
  const raw = (skewed as unknown as { redis: Record<string, (...a: unknown[]) => Promise<unknown>> }).redis;
  raw.weirClaim = () => Promise.resolve("OK");
  raw.weirTakeOver = () => Promise.resolve([1]);
  await expect(skewed.claim([`${run}skew-1`, `${run}skew-2`], "gw-skew/1")).rejects.toThrow(/unexpected claim reply from Redis: string/);
  await expect(skewed.takeOver([`${run}skew-1`, `${run}skew-2`], ["a", "b"], "gw-skew/2")).rejects.toThrow(/1 entries for 2 keys/);
  await skewed.close();
});
