/**
 * `weir send --type T [--key K] [file.jsonl | -]`: publishes JSON events (one per line, see
 * src/schema/json-events.ts) through a gateway, converted to Protobuf with the schema image
 * (WEIR_SCHEMA_IMAGE, else Weir's own types). The gateway validates them as any client's; each
 * event's result is printed, in input order. Exit code 0 when every event is in Kafka (ACK or
 * DUPLICATE), 1 otherwise.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { IngestClient, ResultCode } from "../../src/client/index.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { JsonEventError, envelopeFromJsonLine } from "../../src/schema/json-events.js";
import { SchemaRegistry } from "../../src/schema/registry.js";
import type { CliTarget } from "./target.js";

export type SendOptions = CliTarget & {
  readonly type?: string;
  readonly key?: string;
  readonly file: string;
  readonly json: boolean;
  readonly schemaImage: string;
};

type Outcome = { line: number; id?: string; result: string; errorCode?: string; reason?: string };

const BATCH = 500;

export async function runSend(opts: SendOptions): Promise<number> {
  const registry = opts.schemaImage ? SchemaRegistry.fromFile(opts.schemaImage) : SchemaRegistry.builtin();
  const input = opts.file === "-" ? process.stdin : createReadStream(opts.file);
  const client = await IngestClient.connect({ url: `${opts.url}/v1/ingest`, tenant: opts.tenant, apiKey: opts.apiKey, clientId: "weir-send" });
  const print = (o: Outcome) =>
    console.log(
      opts.json
        ? JSON.stringify(o)
        : `line ${o.line}\t${o.result}${o.id ? `\t${o.id}` : ""}${o.errorCode ? `\t${o.errorCode}` : ""}${o.reason ? `\t${o.reason}` : ""}`,
    );
  let failed = 0;
  let pending: Array<{ line: number; env: Envelope }> = [];
  const flush = async () => {
    const results = await client.publishUntilFinal(pending.map((p) => p.env));
    results.forEach((r, i) => {
      const ok = r.code === ResultCode.ACK || r.code === ResultCode.DUPLICATE;
      if (!ok) failed++;
      print({
        line: pending[i]!.line,
        id: r.id,
        result: ResultCode[r.code],
        ...(r.errorCode ? { errorCode: r.errorCode } : {}),
        ...(r.reason ? { reason: r.reason } : {}),
      });
    });
    pending = [];
  };
  try {
    let n = 0;
    for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      n++;
      if (text.trim() === "") continue;
      try {
        pending.push({
          line: n,
          env: envelopeFromJsonLine(registry, text, { ...(opts.type ? { type: opts.type } : {}), ...(opts.key ? { key: opts.key } : {}) }),
        });
      } catch (err) {
        if (!(err instanceof JsonEventError)) throw err;
        // Results stay in input order: what is queued goes first.
        if (pending.length > 0) await flush();
        failed++;
        print({ line: n, result: "NOT_SENT", reason: err.message });
        continue;
      }
      if (pending.length >= BATCH) await flush();
    }
    if (pending.length > 0) await flush();
  } finally {
    await client.close();
  }
  return failed === 0 ? 0 : 1;
}
