/**
 * The relay's settings: one JSON file (`weir relay --config relay.json`), checked against a strict
 * schema so that a misspelt key or a wrong type stops the relay with the file and the field's path
 * (`relay.json: rules[2].windowMs: expected number, got string`) instead of leaving a default in
 * force. Every field but `upstream` and `devices` has a default that works locally.
 *
 * Runs on Deno too (the relay's bundle): zod and the shared issue formatting have no Node imports.
 */
import { z } from "zod";
import { filePathLabel, parseWithSchema } from "../config/schema-check.js";
import type { RelayRule } from "./rules.js";
import { DEFAULT_HELLO_TIMEOUT_MS } from "../protocol/version.js";
import { controlCharAt } from "../ingest/envelope-bytes.js";

export type RelayConfig = {
  /** Where devices connect: ws://host:port/v1/ingest. */
  /** With certFile and keyFile (PEM), devices connect over TLS only (wss://). */
  readonly listen: { readonly host: string; readonly port: number; readonly certFile?: string; readonly keyFile?: string };
  /** `tenant:key` pairs devices may say Hello with. */
  readonly devices: ReadonlyMap<string, string>;
  /** The cloud gateways (failover list) and the tenant the relay publishes as. */
  /**
   * The cloud gateways and the relay's credentials there: an API key, or a file holding a token
   * (JWT) that something else keeps fresh (read again at each connect and before each expiry).
   */
  readonly upstream: { readonly urls: readonly string[]; readonly tenant: string; readonly apiKey?: string; readonly tokenFile?: string };
  /** The relay's durable outbox file (events stored here are acked to devices). */
  readonly outbox: string;
  /** Name in Welcome.gateway_id and logs. */
  readonly relayId: string;
  /** Events a device may have unanswered (its credit). */
  readonly credit: number;
  readonly maxBatchEvents: number;
  /**
   * The largest event, counted as the gateway counts it (src/ingest/envelope-bytes.ts) on the
   * envelope the relay forwards — with its device-tenant id prefix and attribute. The default is
   * the gateway's WEIR_MAX_EVENT_BYTES default: keep it at or under the cloud's setting, or
   * events the relay acked are refused TOO_LARGE upstream.
   */
  readonly maxEventBytes: number;
  /** How far an event_time may be ahead of the relay's clock (the gateway's WEIR_MAX_FUTURE_SKEW_MS). */
  readonly maxFutureSkewMs: number;
  /**
   * A buf image (FileDescriptorSet) with the event types devices may send, checked as the gateway
   * checks them (WEIR_SCHEMA_IMAGE: give the relay the cloud's image); "" for the built-in types.
   */
  readonly schemaImage: string;
  /** Upstream refusals kept for devices to read (GET /v1/refusals): per device tenant, and tenants at most. */
  readonly refusalLog: { readonly perTenant: number; readonly maxTenants: number };
  /** Events stored and not yet acked upstream before devices wait (the outbox's bound in memory). */
  readonly maxBufferedEvents: number;
  /** Upstream batching linger. */
  readonly lingerMs: number;
  /** Time a device connection has to send Hello. */
  readonly helloTimeoutMs: number;
  /** Unsent results a device may leave unread before it is closed as a slow reader (4409). */
  readonly maxSendBufferBytes: number;
  readonly rules: readonly RelayRule[];
};

const nonEmpty = z.string().min(1);

/** `tenant:key`, split at the first ':' (keys may contain ':'). */
const devicePair = z
  .string()
  .refine((pair) => pair.indexOf(":") > 0 && pair.indexOf(":") < pair.length - 1, {
    error: (issue) => `${JSON.stringify(issue.input)} is not tenant:key`,
    abort: true,
  })
  // Upstream ids are "<device tenant>/<id>" (relay.ts): a "/" in a tenant would make two devices' ids meet.
  .refine((pair) => !tenantOf(pair).includes("/"), {
    error: (issue) => `tenant ${JSON.stringify(tenantOf(String(issue.input)))} must not contain "/"`,
    abort: true,
  })
  .refine((pair) => controlCharAt(tenantOf(pair)) < 0, {
    error: (issue) => `tenant ${JSON.stringify(tenantOf(String(issue.input)))} must not contain control characters`,
  });

function tenantOf(pair: string): string {
  return pair.slice(0, pair.indexOf(":"));
}

const upstreamUrl = z.string().refine((url) => /^wss?:\/\//.test(url), { error: (issue) => `${JSON.stringify(issue.input)} is not a ws:// or wss:// URL` });

const ruleMatch = z.strictObject({ type: z.string().optional(), attributes: z.record(z.string(), z.string()).optional() }).prefault({});

// A rule is one of the actions, each with exactly its fields: `windowMs` on a drop rule is refused as unknown.
const relayRule = z.discriminatedUnion("action", [
  z.strictObject({ match: ruleMatch, action: z.literal("drop") }),
  z.strictObject({ match: ruleMatch, action: z.literal("conflate"), windowMs: z.int().min(1) }),
]);

const relayConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: nonEmpty.default("127.0.0.1"),
      port: z.int().min(0).max(65535).default(8787),
      certFile: nonEmpty.optional(),
      keyFile: nonEmpty.optional(),
    })
    .refine((l) => (l.certFile === undefined) === (l.keyFile === undefined), "certFile and keyFile go together")
    .prefault({}),
  devices: z.array(devicePair).min(1, 'must list "tenant:key" pairs'),
  upstream: z
    .strictObject({
      urls: z.array(upstreamUrl).min(1, "must list ws:// or wss:// URLs"),
      tenant: nonEmpty,
      apiKey: nonEmpty.optional(),
      tokenFile: nonEmpty.optional(),
    })
    .refine((u) => (u.apiKey === undefined) !== (u.tokenFile === undefined), "needs apiKey or tokenFile (one of them)"),
  outbox: nonEmpty.default("weir-relay-outbox.log"),
  relayId: nonEmpty.default(() => `relay-${crypto.randomUUID().slice(0, 8)}`),
  credit: z.int().min(1).default(1000),
  maxBatchEvents: z.int().min(1).default(500),
  maxEventBytes: z
    .int()
    .min(1)
    .default(256 * 1024),
  maxFutureSkewMs: z.int().min(0).default(3600_000),
  schemaImage: z.string().default(""),
  refusalLog: z.strictObject({ perTenant: z.int().min(1).default(1000), maxTenants: z.int().min(1).default(10_000) }).prefault({}),
  maxBufferedEvents: z.int().min(1).default(100_000),
  lingerMs: z.int().min(0).default(20),
  helloTimeoutMs: z.int().min(100).default(DEFAULT_HELLO_TIMEOUT_MS),
  maxSendBufferBytes: z
    .int()
    .min(1024)
    .default(1 << 20),
  rules: z.array(relayRule).default([]),
});

/** The relay's config from the parsed JSON of its file; `source` names the file in errors. */
export function parseRelayConfig(raw: unknown, source = "relay.json"): RelayConfig {
  const { devices, rules, ...rest } = parseWithSchema(relayConfigSchema, raw, filePathLabel(source));
  const deviceKeys = new Map<string, string>();
  for (const pair of devices) {
    const i = pair.indexOf(":");
    deviceKeys.set(pair.slice(0, i), pair.slice(i + 1));
  }
  const checkedRules: readonly RelayRule[] = rules;
  return { ...rest, devices: deviceKeys, rules: checkedRules };
}
