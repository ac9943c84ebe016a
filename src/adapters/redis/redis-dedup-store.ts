/**
 * Idempotency keys in Redis (ioredis). A key moves pending → done:
 *   claim   SET key <token> NX PX pendingTtl   (one Lua call per batch, all keys in one argument)
 *   confirm SET key "d" PX dedupTtl            (one Lua call per batch, after Kafka acked)
 *   release DEL key if its value is still <token> (after a failed publish)
 * While Redis is unreachable commands fail fast (no offline queue): the gateway nacks
 * RETRY_AFTER instead of publishing events it cannot deduplicate.
 */
import { Redis } from "ioredis";
import type { Claim, DedupStore } from "../../ingest/ports.js";

const DONE = "d";

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

// ARGV: prefix, keys, token, pending TTL ms. Returns per key: -1 claimed, -2 already done, else the pending claim's remaining ms.
const claimScript = `${eachKey}
local out = {}
each_key(ARGV[2], ARGV[1], function(i, key)
  if redis.call('SET', key, ARGV[3], 'NX', 'PX', ARGV[4]) then
    out[i] = -1
  elseif redis.call('GET', key) == '${DONE}' then
    out[i] = -2
  else
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = 0 end
    out[i] = ttl
  end
end)
return out`;

// ARGV: prefix, keys, the idempotency TTL in ms.
const confirmScript = `${eachKey}
each_key(ARGV[2], ARGV[1], function(_, key) redis.call('SET', key, '${DONE}', 'PX', ARGV[3]) end)
return 0`;

// ARGV: prefix, keys, token.
const releaseScript = `${eachKey}
each_key(ARGV[2], ARGV[1], function(_, key)
  if redis.call('GET', key) == ARGV[3] then redis.call('DEL', key) end
end)
return 0`;

/** "<byte length>:<key>" for each key, concatenated. */
export function packKeys(keys: readonly string[]): string {
  let out = "";
  for (const k of keys) out += `${Buffer.byteLength(k)}:${k}`;
  return out;
}

export type RedisDedupOptions = {
  readonly url: string;
  readonly keyPrefix?: string;
  readonly dedupTtlMs: number;
  readonly pendingTtlMs: number;
  readonly commandTimeoutMs: number;
};

type ScriptedRedis = Redis & {
  weirClaim(prefix: string, keys: string, token: string, pendingTtlMs: number): Promise<number[]>;
  weirRelease(prefix: string, keys: string, token: string): Promise<number>;
  weirConfirm(prefix: string, keys: string, dedupTtlMs: number): Promise<number>;
};

export class RedisDedupStore implements DedupStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;

  constructor(private readonly opts: RedisDedupOptions) {
    this.prefix = opts.keyPrefix ?? "weir:dedup:";
    const redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: opts.commandTimeoutMs,
      // Keep trying to reconnect, at most every second: Redis coming back must heal the gateway.
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      lazyConnect: true,
    });
    // Errors surface through commands and `healthy`; an unhandled 'error' event would crash.
    redis.on("error", () => {});
    redis.defineCommand("weirClaim", { lua: claimScript, numberOfKeys: 0 });
    redis.defineCommand("weirRelease", { lua: releaseScript, numberOfKeys: 0 });
    redis.defineCommand("weirConfirm", { lua: confirmScript, numberOfKeys: 0 });
    this.redis = redis as ScriptedRedis;
  }

  async connect(): Promise<void> {
    await this.redis.connect();
  }

  get healthy(): boolean {
    return this.redis.status === "ready";
  }

  async claim(keys: readonly string[], token: string): Promise<Claim[]> {
    const raw = await this.redis.weirClaim(this.prefix, packKeys(keys), token, this.opts.pendingTtlMs);
    return raw.map((v): Claim => (v === -1 ? { kind: "claimed" } : v === -2 ? { kind: "done" } : { kind: "pending", retryAfterMs: v }));
  }

  async confirm(keys: readonly string[]): Promise<void> {
    await this.redis.weirConfirm(this.prefix, packKeys(keys), this.opts.dedupTtlMs);
  }

  async release(keys: readonly string[], token: string): Promise<void> {
    await this.redis.weirRelease(this.prefix, packKeys(keys), token);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
