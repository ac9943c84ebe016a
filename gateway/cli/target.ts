/** The gateway and credentials of `weir send` and `weir tail`: flags over WEIR_GATEWAY_URL, WEIR_TENANT, WEIR_API_KEY. */
import { resolveToolSettings } from "../../src/config.js";

export type CliTarget = { readonly url: string; readonly tenant: string; readonly apiKey: string };

export function cliTarget(flags: { url?: string | undefined; tenant?: string | undefined; "api-key"?: string | undefined }): CliTarget {
  const settings = resolveToolSettings();
  // A full endpoint URL is taken down to the gateway's base: the commands add their own paths.
  const url = (flags.url ?? settings.gatewayUrl).replace(/\/v1\/(ingest|subscribe)\/?$/, "").replace(/\/$/, "");
  return { url, tenant: flags.tenant ?? settings.tenant, apiKey: flags["api-key"] ?? settings.apiKey };
}
