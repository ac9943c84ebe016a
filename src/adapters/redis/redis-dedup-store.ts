/**
 * Idempotency keys in Redis (ioredis). A key moves claimed → done:
 *   claim    SET key <token>@<Redis time ms> NX PX dedupTtl  (one Lua call per batch, all keys in
 *            one argument); a key already held is done ("d"), pending (its gateway heartbeats and
 *            the claim is younger than pendingTtl) or stale (returned with its value)
 *   takeOver SET key <token>@<now> PX dedupTtl if its value is still the stale one seen (CAS)
 *   confirm  SET key "d" PX dedupTtl                          (after Kafka acked)
 *   release  DEL key if its token is still <token>            (after a failed publish)
 * Each gateway keeps `<ownerPrefix><gatewayId>` alive (PX ownerTtl, refreshed every ownerTtl/3
 * and by each of its claims) and deletes it on close: a claim whose owner's key is gone is
 * orphaned. Claim times come from Redis (TIME), so gateway clocks do not matter. See
 * docs/decisions/0003-dedup-claims.md and 0010-stale-claims-verified-in-kafka.md.
 * While Redis is unreachable commands fail fast (no offline queue): the gateway nacks
 * RETRY_AFTER instead of publishing events it cannot deduplicate.
 */
import { Redis } from "ioredis";
import type { Claim, DedupStore } from "../../ingest/ports.js";

const DONE = "d";
export const defaultKeyPrefix = "weir:dedup:";
export const defaultOwnerPrefix = "weir:gateway:";

/** The value of a claim: the attempt's token and the Redis time it was made. */
export function claimValue(token: string, atMs: number): string {
  return `${token}@${atMs}`;
}

/** The gateway that made a claim with `token` ("<gatewayId>/<batch>"): the part before the last "/". */
export function ownerOf(token: string): string {
  const slash = token.lastIndexOf("/");
  return slash < 0 ? token : token.slice(0, slash);
}

/*
 * The keys of a batch travel as ONE argument, each as "<byte length>:<key>", not as KEYS: ioredis
 * spends several microseconds per argument, which made dedup a tenth of the gateway's CPU.
 * (Undeclared keys are fine on a single Redis node; Redis Cluster would need hash-tagged keys
 * and KEYS again; see docs/decisions/0003.) `each_key` walks that list, prefixing each key.
 */
const eachKey = `
local function each_key(list, prefix, fn)
  local pos, i = 1, 0
  while pos <= #list do
    local colon = string.find(list, ':', pos, true)
    local len = tonumber(string.sub(list, pos, colon - 1))
    i = i + 1
    fn(i, prefix .. string.sub(list, colon + 1, colon + len))
    pos = colon + len + 1
  end
end`;

/*
 * A claim's value is "<token>@<Redis time ms>", its token "<gatewayId>/<batch>". `split_claim`
 * gives token and time, or nil for a value without a time (a claim of an older gateway version,
 * which still expires after the pending TTL: it stays pending until then).
 */
const claimHelpers = `
local function now_ms()
  local t = redis.call('TIME')
  return t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
end
local function split_claim(v)
  local at = string.find(v, '@[^@]*$')
  if not at then return nil, nil end
  local ms = tonumber(string.sub(v, at + 1))
  if not ms then return nil, nil end
  return string.sub(v, 1, at - 1), ms
end
local function owner_of(token)
  return string.match(token, '^(.*)/') or token
end`;

/*
 * ARGV: prefix, keys, token, dedup TTL ms, pending TTL ms, owner prefix, owner TTL ms.
 * Returns per key: -1 claimed, -2 already done, a number >= 0 for a pending claim (ms until it
 * would turn stale by age), or the value of a stale claim (a string, for takeOver to compare).
 * Claiming also refreshes this gateway's heartbeat: a gateway making claims is alive.
 */
const claimScript = `${eachKey}${claimHelpers}
local now_s = now_ms()
local now = tonumber(now_s)
local value = ARGV[3] .. '@' .. now_s
local pending_ttl = tonumber(ARGV[5])
redis.call('SET', ARGV[6] .. owner_of(ARGV[3]), '1', 'PX', ARGV[7])
local alive = {}
local out = {}
each_key(ARGV[2], ARGV[1], function(i, key)
  if redis.call('SET', key, value, 'NX', 'PX', ARGV[4]) then
    out[i] = -1
  else
    local v = redis.call('GET', key)
    if v == '${DONE}' then
      out[i] = -2
    else
      local token, at = split_claim(v)
      if not token then
        local ttl = redis.call('PTTL', key)
        if ttl < 0 then ttl = 0 end
        out[i] = ttl
      else
        local owner = owner_of(token)
        if alive[owner] == nil then alive[owner] = redis.call('EXISTS', ARGV[6] .. owner) == 1 end
        local age = now - at
        if alive[owner] and age < pending_ttl then out[i] = pending_ttl - age else out[i] = v end
      end
    end
  end
end)
return out`;

// ARGV: prefix, keys, stale values (packed like the keys), token, dedup TTL ms, owner prefix, owner TTL ms. Returns per key 1 taken, 0 not.
const takeOverScript = `${eachKey}${claimHelpers}
local stale = {}
each_key(ARGV[3], '', function(i, v) stale[i] = v end)
local value = ARGV[4] .. '@' .. now_ms()
redis.call('SET', ARGV[6] .. owner_of(ARGV[4]), '1', 'PX', ARGV[7])
local out = {}
each_key(ARGV[2], ARGV[1], function(i, key)
  if redis.call('GET', key) == stale[i] then
    redis.call('SET', key, value, 'PX', ARGV[5])
    out[i] = 1
  else
    out[i] = 0
  end
end)
return out`;

// ARGV: prefix, keys, the idempotency TTL in ms.
const confirmScript = `${eachKey}
each_key(ARGV[2], ARGV[1], function(_, key) redis.call('SET', key, '${DONE}', 'PX', ARGV[3]) end)
return 0`;

// ARGV: prefix, keys, token. Deletes a key only while it is still this attempt's claim.
const releaseScript = `${eachKey}${claimHelpers}
each_key(ARGV[2], ARGV[1], function(_, key)
  local v = redis.call('GET', key)
  if v and v ~= '${DONE}' and (split_claim(v) or v) == ARGV[3] then redis.call('DEL', key) end
end)
return 0`;

/**
 * A script's reply has one entry per key, or the call counts as failed (the caller then treats its
 * claims as abandoned): a reply of another shape means the connection's replies are out of step.
 */
function expectReplies(what: string, raw: unknown, count: number): asserts raw is unknown[] {
  if (!Array.isArray(raw) || raw.length !== count) {
    throw new Error(`unexpected ${what} reply from Redis: ${Array.isArray(raw) ? `${raw.length} entries for ${count} keys` : typeof raw}`);
  }
}

/** "<byte length>:<key>" for each key, concatenated. */
export function packKeys(keys: readonly string[]): string {
  let out = "";
  for (const k of keys) out += `${Buffer.byteLength(k)}:${k}`;
  return out;
}

export type RedisDedupOptions = {
  /** redis:// or rediss:// (TLS), with an ACL user and password in it if Redis has them. */
  readonly url: string;
  /** PEM of the CA that signed Redis's certificate (rediss:// only); absent: the system's roots. */
  readonly tlsCaPem?: string;
  readonly keyPrefix?: string;
  /** Lifetime of a published id (the idempotency window), and of a claim. */
  readonly dedupTtlMs: number;
  /** Age after which a claim of a live gateway counts as stale (verified against Kafka). */
  readonly pendingTtlMs: number;
  /** A gateway's heartbeat lives this long: its claims are orphaned this long after its last one. */
  readonly ownerTtlMs: number;
  /** Prefix of the gateways' heartbeat keys (default "weir:gateway:"). */
  readonly ownerKeyPrefix?: string;
  /** This gateway, when the store should keep its heartbeat (every ownerTtlMs / 3; deleted on close). */
  readonly gatewayId?: string;
  readonly commandTimeoutMs: number;
  /** Failures worth a log line (a heartbeat that did not land). */
  readonly onError?: (what: string, err: unknown) => void;
};

type ScriptedRedis = Redis & {
  weirClaim(
    prefix: string,
    keys: string,
    token: string,
    dedupTtlMs: number,
    pendingTtlMs: number,
    ownerPrefix: string,
    ownerTtlMs: number,
  ): Promise<Array<number | string>>;
  weirTakeOver(
    prefix: string,
    keys: string,
    staleValues: string,
    token: string,
    dedupTtlMs: number,
    ownerPrefix: string,
    ownerTtlMs: number,
  ): Promise<number[]>;
  weirRelease(prefix: string, keys: string, token: string): Promise<number>;
  weirConfirm(prefix: string, keys: string, dedupTtlMs: number): Promise<number>;
};

export class RedisDedupStore implements DedupStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly ownerPrefix: string;
  /** This gateway's heartbeat key, if the store keeps one. */
  private readonly ownerKey: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RedisDedupOptions) {
    this.prefix = opts.keyPrefix ?? defaultKeyPrefix;
    this.ownerPrefix = opts.ownerKeyPrefix ?? defaultOwnerPrefix;
    this.ownerKey = opts.gatewayId !== undefined ? this.ownerPrefix + opts.gatewayId : undefined;
    const redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: opts.commandTimeoutMs,
      // Keep trying to reconnect, at most every second: Redis coming back must heal the gateway.
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      lazyConnect: true,
      ...(opts.tlsCaPem && opts.url.startsWith("rediss:") ? { tls: { ca: opts.tlsCaPem } } : {}),
    });
    // Errors surface through commands and `healthy`; an unhandled 'error' event would crash.
    redis.on("error", () => {});
    // A (re)connected Redis may have lost the heartbeat (restart without persistence): beat at
    // once. 'ready' is emitted synchronously with the status change, so this SET goes out before
    // any claim made on the new connection.
    redis.on("ready", () => this.beat());
    redis.defineCommand("weirClaim", { lua: claimScript, numberOfKeys: 0 });
    redis.defineCommand("weirTakeOver", { lua: takeOverScript, numberOfKeys: 0 });
    redis.defineCommand("weirRelease", { lua: releaseScript, numberOfKeys: 0 });
    redis.defineCommand("weirConfirm", { lua: confirmScript, numberOfKeys: 0 });
    this.redis = redis as ScriptedRedis;
  }

  async connect(): Promise<void> {
    if (this.ownerKey && !this.heartbeat) {
      this.heartbeat = setInterval(() => this.beat(), Math.max(1, Math.floor(this.opts.ownerTtlMs / 3)));
      this.heartbeat.unref();
    }
    await this.redis.connect();
  }

  get healthy(): boolean {
    return this.redis.status === "ready";
  }

  /** One round trip (readiness checks): fails fast while disconnected, times out while Redis hangs. */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async claim(keys: readonly string[], token: string): Promise<Claim[]> {
    const { dedupTtlMs, pendingTtlMs, ownerTtlMs } = this.opts;
    const raw = await this.redis.weirClaim(this.prefix, packKeys(keys), token, dedupTtlMs, pendingTtlMs, this.ownerPrefix, ownerTtlMs);
    expectReplies("claim", raw, keys.length);
    return raw.map(
      (v): Claim =>
        typeof v === "string"
          ? { kind: "stale", value: v }
          : v === -1
            ? { kind: "claimed" }
            : v === -2
              ? { kind: "done" }
              : { kind: "pending", retryAfterMs: v, ageMs: Math.max(0, pendingTtlMs - v) },
    );
  }

  async takeOver(keys: readonly string[], staleValues: readonly string[], token: string): Promise<boolean[]> {
    if (keys.length !== staleValues.length) throw new Error(`takeOver: ${keys.length} keys but ${staleValues.length} values`);
    const { dedupTtlMs, ownerTtlMs } = this.opts;
    const raw = await this.redis.weirTakeOver(this.prefix, packKeys(keys), packKeys(staleValues), token, dedupTtlMs, this.ownerPrefix, ownerTtlMs);
    expectReplies("takeOver", raw, keys.length);
    return raw.map((v) => v === 1);
  }

  async confirm(keys: readonly string[]): Promise<void> {
    await this.redis.weirConfirm(this.prefix, packKeys(keys), this.opts.dedupTtlMs);
  }

  async release(keys: readonly string[], token: string): Promise<void> {
    await this.redis.weirRelease(this.prefix, packKeys(keys), token);
  }

  /**
   * Stops the heartbeat and deletes it (the gateway settled its publishes first: its remaining
   * claims are orphaned at once, not ownerTtl later), then disconnects.
   */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.ownerKey && this.healthy)
      await this.redis.del(this.ownerKey).catch((err: unknown) => this.opts.onError?.("deleting the gateway heartbeat failed", err));
    this.redis.disconnect();
  }

  private beat(): void {
    if (!this.ownerKey || !this.heartbeat || !this.healthy) return;
    this.redis.set(this.ownerKey, "1", "PX", this.opts.ownerTtlMs).catch((err: unknown) => this.opts.onError?.("gateway heartbeat failed", err));
  }
}
