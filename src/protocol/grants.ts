/**
 * What a tenant may do: which event types it may publish and which streams it may subscribe to.
 * A pattern is a name ("weir.events.v1.Quote", "results.error-rate"), a prefix ending in ".*"
 * ("weir.events.v1.*", "results.*") or "*" (everything). Portable: the relay checks them too.
 */
export type Grants = {
  /** Event type names (the envelope's `type`). */
  readonly publish: readonly string[];
  /** Stream names ("results.<job>", "alerts", "events.<type>"). */
  readonly subscribe: readonly string[];
};

/** What a tenant without configured grants may do (API-key tenants, unless WEIR_TENANT_GRANTS says otherwise). */
export const ALL_GRANTS: Grants = { publish: ["*"], subscribe: ["*"] };

/** Whether one of `patterns` names `name`. */
export function granted(patterns: readonly string[], name: string): boolean {
  for (const p of patterns) {
    if (p === "*" || p === name) return true;
    if (p.endsWith(".*") && name.startsWith(p.slice(0, -1))) return true;
  }
  return false;
}

/** A Grants from untrusted JSON (token claims, settings), or why it is not one. */
export function grantsFrom(publish: unknown, subscribe: unknown): Grants | string {
  const list = (v: unknown, what: string): readonly string[] | string => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) return `${what} must be a list of strings`;
    return v;
  };
  const pub = list(publish, "publish");
  const sub = list(subscribe, "subscribe");
  if (typeof pub === "string") return pub;
  if (typeof sub === "string") return sub;
  return { publish: pub, subscribe: sub };
}
