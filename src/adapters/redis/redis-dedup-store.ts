/**
 * Idempotency keys in Redis (ioredis). A key moves pending → done:
 *   claim   SET key <token> NX PX pendingTtl   (one Lua call per batch, all keys)
 *   confirm SET key "d" PX dedupTtl            (one Lua call per batch, after Kafka acked)
 *   release DEL key if its value is still <token> (after a failed publish)
 * While Redis is unreachable commands fail fast (no offline queue): the gateway nacks
 * RETRY_AFTER instead of publishing events it cannot deduplicate.
 */
import { Redis } from "ioredis";
import type { Claim, DedupStore } from "../../ingest/ports.js";

const DONE = "d";

// Returns per key: -1 claimed, -2 already done, else the pending claim's remaining ms.
const claimScript = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i] = -1
  elseif redis.call('GET', key) == '${DONE}' then
    out[i] = -2
  else
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = 0 end
    out[i] = ttl
  end
end
return out`;

// ARGV[1]: the idempotency TTL in ms.
const confirmScript = `
for _, key in ipairs(KEYS) do redis.call('SET', key, '${DONE}', 'PX', ARGV[1]) end
return 0`;

const releaseScript = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0`;

export type RedisDedupOptions = {
  readonly url: string;
  readonly keyPrefix?: string;
  readonly dedupTtlMs: number;
  readonly pendingTtlMs: number;
  readonly commandTimeoutMs: number;
};

type ScriptedRedis = Redis & {
  weirClaim(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
  weirRelease(numKeys: number, ...args: string[]): Promise<number>;
  weirConfirm(numKeys: number, ...args: Array<string | number>): Promise<number>;
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
    redis.defineCommand("weirClaim", { lua: claimScript });
    redis.defineCommand("weirRelease", { lua: releaseScript });
    redis.defineCommand("weirConfirm", { lua: confirmScript });
    this.redis = redis as ScriptedRedis;
  }

  async connect(): Promise<void> {
    await this.redis.connect();
  }

  get healthy(): boolean {
    return this.redis.status === "ready";
  }

  async claim(keys: readonly string[], token: string): Promise<Claim[]> {
    const raw = await this.redis.weirClaim(keys.length, ...keys.map((k) => this.prefix + k), token, this.opts.pendingTtlMs);
    return raw.map((v): Claim => (v === -1 ? { kind: "claimed" } : v === -2 ? { kind: "done" } : { kind: "pending", retryAfterMs: v }));
  }

  async confirm(keys: readonly string[]): Promise<void> {
    await this.redis.weirConfirm(keys.length, ...keys.map((k) => this.prefix + k), this.opts.dedupTtlMs);
  }

  async release(keys: readonly string[], token: string): Promise<void> {
    await this.redis.weirRelease(keys.length, ...keys.map((k) => this.prefix + k), token);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
