/**
 * Engine keys are tenant-qualified, "<tenant>/<key>": the processor prefixes the record key (and
 * the ids the engine keys state by, such as a trade's account) with the tenant that published it,
 * so two tenants' "web-1" or "acct-7" never share state, and every output knows its tenant.
 * Global-table inputs (reference data, quotes) stay unqualified: they are shared market data.
 * Tenant names cannot contain "/" (config refuses them).
 */
export const TENANT_SEPARATOR = "/";

export function tenantKey(tenant: string, key: string): string {
  return `${tenant}${TENANT_SEPARATOR}${key}`;
}

/** The tenant and the tenant's own key of a qualified key, or undefined for a shared (unqualified) one. */
export function splitTenantKey(qualified: string): { tenant: string; key: string } | undefined {
  const at = qualified.indexOf(TENANT_SEPARATOR);
  return at > 0 ? { tenant: qualified.slice(0, at), key: qualified.slice(at + 1) } : undefined;
}
