/**
 * The relay's settings: one JSON file (`weir relay --config relay.json`), checked here with clear
 * errors. Every field but `upstream` and `devices` has a default that works locally.
 */
import { WeirError } from "../errors.js";
import { parseRules, type RelayRule } from "./rules.js";

export type RelayConfig = {
  /** Where devices connect: ws://host:port/v1/ingest. */
  readonly listen: { readonly host: string; readonly port: number };
  /** `tenant:key` pairs devices may say Hello with. */
  readonly devices: ReadonlyMap<string, string>;
  /** The cloud gateways (failover list) and the tenant the relay publishes as. */
  readonly upstream: { readonly urls: readonly string[]; readonly tenant: string; readonly apiKey: string };
  /** The relay's durable outbox file (events stored here are acked to devices). */
  readonly outbox: string;
  /** Name in Welcome.gateway_id and logs. */
  readonly relayId: string;
  /** Events a device may have unanswered (its credit). */
  readonly credit: number;
  readonly maxBatchEvents: number;
  readonly maxEventBytes: number;
  /** Events stored and not yet acked upstream before devices wait (the outbox's bound in memory). */
  readonly maxBufferedEvents: number;
  /** Upstream batching linger. */
  readonly lingerMs: number;
  readonly rules: readonly RelayRule[];
};

type Json = Record<string, unknown>;

const fail = (what: string): never => {
  throw new WeirError("WEIR_ERR_CONFIG", `relay: ${what}`);
};

function int(o: Json, key: string, def: number, min: number): number {
  const v = o[key] ?? def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) fail(`${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return v as number;
}

function str(o: Json, key: string, def?: string): string {
  const v = o[key] ?? def;
  if (typeof v !== "string" || v === "") fail(`${key} must be a non-empty string`);
  return v as string;
}

export function parseRelayConfig(raw: unknown): RelayConfig {
  if (typeof raw !== "object" || raw === null) return fail("the config must be a JSON object");
  const o = raw as Json;
  const listen = (o.listen ?? {}) as Json;
  const upstream = (o.upstream ?? fail("upstream { urls, tenant, apiKey } is required")) as Json;
  const urls = upstream.urls;
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === "string" && /^wss?:\/\//.test(u))) fail("upstream.urls must list ws:// or wss:// URLs");
  const devices = o.devices;
  if (!Array.isArray(devices) || devices.length === 0) fail('devices must list "tenant:key" pairs');
  const deviceKeys = new Map<string, string>();
  for (const pair of devices as unknown[]) {
    const i = typeof pair === "string" ? pair.indexOf(":") : -1;
    if (i <= 0 || i === (pair as string).length - 1) fail(`devices: "${String(pair)}" is not tenant:key`);
    deviceKeys.set((pair as string).slice(0, i), (pair as string).slice(i + 1));
  }
  return {
    listen: { host: str(listen, "host", "127.0.0.1"), port: int(listen, "port", 8787, 0) },
    devices: deviceKeys,
    upstream: { urls: urls as string[], tenant: str(upstream, "tenant"), apiKey: str(upstream, "apiKey") },
    outbox: str(o, "outbox", "weir-relay-outbox.log"),
    relayId: str(o, "relayId", `relay-${crypto.randomUUID().slice(0, 8)}`),
    credit: int(o, "credit", 1000, 1),
    maxBatchEvents: int(o, "maxBatchEvents", 500, 1),
    maxEventBytes: int(o, "maxEventBytes", 1 << 20, 1),
    maxBufferedEvents: int(o, "maxBufferedEvents", 100_000, 1),
    lingerMs: int(o, "lingerMs", 20, 0),
    rules: parseRules(o.rules ?? []),
  };
}
