/**
 * What the relay does with an event before it stores it for the cloud, by the first rule that
 * matches (no match: forward). Pure: tested without sockets. Checked as part of the relay's config
 * (src/relay/config.ts).
 *   drop      the event is filtered out here (the device still gets its ACK: it was handled)
 *   conflate  within each `windowMs`, only the latest event per (device tenant, type, partition key) goes on —
 *             pre-aggregation for state-like streams such as quotes or sensor readings
 */
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";

export type RuleMatch = { readonly type?: string; readonly attributes?: Readonly<Record<string, string>> };

export type RelayRule =
  | { readonly match: RuleMatch; readonly action: "drop" }
  | { readonly match: RuleMatch; readonly action: "conflate"; readonly windowMs: number };

export type Decision =
  | { readonly action: "forward" }
  | { readonly action: "drop"; readonly rule: number }
  | { readonly action: "conflate"; readonly rule: number; readonly windowMs: number; readonly key: string };

const FORWARD: Decision = { action: "forward" };

export function matches(match: RuleMatch, env: Envelope): boolean {
  if (match.type !== undefined && match.type !== env.type) return false;
  for (const key in match.attributes ?? {}) if (env.attributes[key] !== match.attributes![key]) return false;
  return true;
}

/** `tenant`: the device's; conflation windows never mix devices of different tenants. */
export function decide(rules: readonly RelayRule[], env: Envelope, tenant = ""): Decision {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (!matches(rule.match, env)) continue;
    if (rule.action === "drop") return { action: "drop", rule: i };
    // A partition key and an id fallback never share a window, whatever their text.
    const key = `${tenant}\u0000${env.type}\u0000${env.partitionKey ? `k\u0000${env.partitionKey}` : `i\u0000${env.id}`}`;
    return { action: "conflate", rule: i, windowMs: rule.windowMs, key };
  }
  return FORWARD;
}
