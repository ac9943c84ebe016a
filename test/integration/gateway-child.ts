/** `weir gateway` as a child process (to be SIGKILLed mid-stream), on a free port. */
import { freePort } from "../../src/stack/index.js";
import { startWeirChild, type WeirChild } from "./weir-child.js";

export type GatewayChild = WeirChild & { readonly url: string; readonly gatewayId: string };

/** Starts a gateway and resolves once it logged "gateway ready". `env` adds WEIR_* settings. */
export async function startGatewayChild(opts: {
  services: { kafkaBrokers: string; redisUrl: string };
  gatewayId: string;
  apiKeys: readonly string[];
  env?: Record<string, string>;
}): Promise<GatewayChild> {
  const port = await freePort();
  const child = startWeirChild(`gateway ${opts.gatewayId}`, "gateway/cli/run-gateway.ts", "runGateway", {
    WEIR_HOST: "127.0.0.1",
    WEIR_PORT: String(port),
    WEIR_GATEWAY_ID: opts.gatewayId,
    WEIR_KAFKA_BROKERS: opts.services.kafkaBrokers,
    WEIR_REDIS_URL: opts.services.redisUrl,
    WEIR_API_KEYS: opts.apiKeys.join(","),
    WEIR_PROCESSOR_IN_GATEWAY: "false",
    WEIR_METRICS_PORT: "0",
    // One process unless a test asks for a group (a SIGKILL then kills exactly one gateway process).
    WEIR_INGEST_PROCESSES: "1",
    ...opts.env,
  });
  await child.waitForLog(/^gateway ready$/);
  return Object.assign(child, { url: `ws://127.0.0.1:${port}/v1/ingest`, gatewayId: opts.gatewayId });
}
