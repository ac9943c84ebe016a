/**
 * The edge relay on Deno: `deno run … deno-main.js relay.json schema.binpb` (`weir relay --config
 * relay.json` bundles and starts it; the second argument is the schema image events are checked
 * against: relay.json's schemaImage, or the built-in one written next to the bundle). Devices
 * connect to ws://host:port/v1/ingest (wss:// with listen.certFile and keyFile); GET /v1/refusals gives a device (HTTP Basic, its own
 * tenant:key) what the cloud refused of its events after the relay ACKed them; GET /v1/stats
 * shows the relay's and its upstream's figures; logs are JSON lines on stdout (pino's shape).
 */
import { FileOutbox } from "../client/file-outbox.js";
import { WeirClient } from "../client/weir-client.js";
import { parseRelayConfig } from "./config.js";
import { Relay, type RelayLog } from "./relay.js";
import { SchemaRegistry } from "../schema/registry.js";
import type { EventResult } from "../gen/weir/v1/protocol_pb.js";

/** The few Deno APIs the relay uses (this file is type-checked by Node's tsc, without Deno's types). */
declare const Deno: {
  args: string[];
  readTextFile(path: string): Promise<string>;
  readFile(path: string): Promise<Uint8Array>;
  serve(
    opts: { hostname: string; port: number; cert?: string; key?: string; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
  upgradeWebSocket(req: Request): { socket: WebSocket; response: Response };
  addSignalListener(signal: "SIGTERM" | "SIGINT", fn: () => void): void;
  exit(code: number): never;
};

const log: RelayLog = (level, msg, fields = {}) => console.log(JSON.stringify({ level: level === "info" ? 30 : 40, time: Date.now(), msg, ...fields }));

const configPath = Deno.args[0] ?? "relay.json";
const config = parseRelayConfig(JSON.parse(await Deno.readTextFile(configPath)), configPath);
// Read here (not by the registry's own file loader) so that the built-in image can sit next to the bundle.
const imagePath = Deno.args[1] ?? config.schemaImage;
if (!imagePath) throw new Error("the relay needs a schema image: deno-main.js <relay.json> <schema.binpb>");
const registry = SchemaRegistry.fromImage(
  await Deno.readFile(imagePath).catch((err: unknown) => {
    throw new Error(`cannot read the schema image ${imagePath}: ${String(err)}`);
  }),
  imagePath,
);
// Goes to the relay once it exists; the upstream answers nothing before (it connects in a later turn).
let upstreamResult: (r: EventResult) => void = () => {};
const outbox = await FileOutbox.open(config.outbox);
const upstream = await WeirClient.open({
  urls: config.upstream.urls,
  tenant: config.upstream.tenant,
  // A token file is read again at each connect and before each expiry: whatever renews it on disk
  // (an agent, a projected service-account token) renews the relay's connection in band.
  ...(config.upstream.tokenFile ? { token: async () => (await Deno.readTextFile(config.upstream.tokenFile!)).trim() } : { apiKey: config.upstream.apiKey! }),
  clientId: config.relayId,
  outbox,
  maxBufferedEvents: config.maxBufferedEvents,
  lingerMs: config.lingerMs,
  onConnection: (e) =>
    log(e.kind === "connected" ? "info" : "warn", `upstream ${e.kind}`, {
      url: e.url,
      ...(e.kind === "connect-failed" ? { error: e.error, retryInMs: Math.round(e.retryInMs) } : {}),
      ...(e.kind === "disconnected" ? { code: e.close.code } : {}),
    }),
  onResult: (r) => upstreamResult(r),
});
const relay = new Relay(config, upstream, log, { registry });
upstreamResult = (r) => relay.upstreamResult(r);
log("info", "schema image loaded", { source: imagePath, eventTypes: registry.eventTypes().length });
if (upstream.stats.recovered > 0) log("info", "events recovered from the outbox", { events: upstream.stats.recovered });

// TLS when relay.json names a certificate and key: devices then reach the relay over wss:// only.
const { certFile, keyFile } = config.listen;
const tls = certFile && keyFile ? { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) } : undefined;
const server = Deno.serve(
  {
    hostname: config.listen.host,
    port: config.listen.port,
    ...tls,
    onListen: (addr) => log("info", "relay ready", { url: `${tls ? "wss" : "ws"}://${addr.hostname}:${addr.port}/v1/ingest`, relayId: config.relayId }),
  },
  (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/v1/ingest" && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      relay.accept(socket);
      return response;
    }
    if (path === "/v1/refusals") return relay.refusalsResponse(req);
    if (path === "/v1/stats") return Response.json(relay.snapshot());
    if (path === "/healthz") return new Response("ok\n");
    return new Response("not found\n", { status: 404 });
  },
);

// Stopping keeps everything unanswered in the outbox for the next start.
const stop = async () => {
  await server.shutdown();
  await upstream.close();
  log("info", "relay stopped");
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", () => void stop());
Deno.addSignalListener("SIGINT", () => void stop());
// The upstream refused the relay for good (credentials, protocol): a relay that can only answer
// RETRY_AFTER is worse than none — exit so a supervisor sees it; the outbox keeps every event.
void upstream.done.then(async (reason) => {
  if (!reason) return;
  log("warn", "upstream client stopped for good; exiting", { reason: String(reason) });
  await server.shutdown();
  await upstream.close();
  Deno.exit(3);
});
