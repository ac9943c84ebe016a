/**
 * `weir tail <stream> [--from latest|earliest|<time>|<token>] [--key K] [--limit N]`: prints a
 * stream as JSON lines through a subscription (results.<job>, alerts, events.<type>): results and
 * alerts as the jobs wrote them, raw events in their type's Protobuf JSON (schema image). Each
 * line carries the delivery's resume token: `--from <token>` continues after it. Runs until
 * interrupted, or until `--limit` deliveries.
 */
import { subscribe, type StreamDelivery, type SubscribeStart } from "../../src/client/index.js";
import { eventToJson } from "../../src/schema/json-events.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import type { CliTarget } from "./target.js";

export type TailOptions = CliTarget & {
  readonly stream: string;
  readonly from?: string;
  readonly key?: string;
  readonly limit?: number;
  readonly json: boolean;
  readonly schemaImage: string;
};

/** `--from`: latest, earliest, an RFC 3339 time or epoch milliseconds, else a resume token. */
export function startFrom(from: string | undefined): SubscribeStart {
  if (from === undefined || from === "latest") return "latest";
  if (from === "earliest") return "earliest";
  if (/^\d{4}-\d{2}-\d{2}/.test(from) && Number.isFinite(Date.parse(from))) return { timestampMs: Date.parse(from) };
  if (/^\d+$/.test(from)) return { timestampMs: Number(from) };
  return { resumeToken: from };
}

export async function runTail(opts: TailOptions): Promise<number> {
  const registry = opts.schemaImage ? SchemaRegistry.fromFile(opts.schemaImage) : SchemaRegistry.builtin();
  const rawType = opts.stream.startsWith("events.") ? opts.stream.slice("events.".length) : undefined;
  const subscription = subscribe({
    url: `${opts.url}/v1/subscribe`,
    tenant: opts.tenant,
    apiKey: opts.apiKey,
    stream: opts.stream,
    from: startFrom(opts.from),
    ...(opts.key ? { key: opts.key } : {}),
  });
  const stop = () => subscription.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const valueOf = (d: StreamDelivery) => (rawType ? eventToJson(registry, rawType, d.value) : d.json());
  let printed = 0;
  try {
    for await (const d of subscription) {
      const value = valueOf(d);
      console.log(
        opts.json
          ? JSON.stringify({
              stream: opts.stream,
              key: d.key,
              kind: d.kind,
              timestamp: new Date(d.timestampMs).toISOString(),
              resumeToken: d.resumeToken,
              value,
            })
          : `${new Date(d.timestampMs).toISOString()} ${d.key} ${d.kind} ${JSON.stringify(value)}`,
      );
      if (opts.limit !== undefined && ++printed >= opts.limit) break;
    }
  } finally {
    subscription.close();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  return 0;
}
