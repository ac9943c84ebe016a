/**
 * The edge relay's core, free of any server API: devices speak the gateway's /v1/ingest protocol
 * to it; each event is checked as the gateway checks it (the same EventChecker and schema image:
 * an event the relay ACKs is one the cloud takes), passes the relay's rules (drop, conflate,
 * forward) and is stored in the upstream client's durable outbox before the device gets its ACK.
 * The upstream WeirClient forwards over one connection when the uplink is there, and keeps
 * everything meanwhile (store and forward); re-sent ids are deduplicated by the cloud gateway, so
 * each stored event lands in Kafka exactly once. What the cloud still refuses for good (its own
 * grants, a newer or older schema there) is kept per device tenant for the device to read
 * (refusalsResponse, GET /v1/refusals) and counted per error code in the stats.
 * Runs on Deno (./deno-main.ts) and, for tests, anywhere with a WebSocket.
 */
import { create } from "@bufbuild/protobuf";
import { EventResultSchema, HelloSchema, ResultCode, type EventResult } from "../gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { WeirError } from "../errors.js";
import type { WeirClient } from "../client/weir-client.js";
import { apiKeyAuthenticator } from "../protocol/api-key-authenticator.js";
import { IngestSession, type IngestLimits } from "../protocol/ingest-session.js";
import type { Authenticator, Publisher, Transport } from "../protocol/ports.js";
import { Conflator } from "./conflator.js";
import { decide } from "./rules.js";
import type { RelayConfig } from "./config.js";
import { envelopeBytes } from "../ingest/envelope-bytes.js";
import type { Grants } from "../protocol/grants.js";
import { EventChecker } from "../ingest/check-event.js";
import { systemClock, type Clock } from "../ingest/clock.js";
import { SchemaRegistry } from "../schema/registry.js";
import { splitTenantKey, tenantKey } from "../kafka-contract.js";
import { RefusalLog, type Refusal } from "./refusals.js";
import { basicCredentials } from "../protocol/http-credentials.js";

/** The largest message Deno's WebSocket takes (64 MiB), less room for the frame's own fields. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024 - 64 * 1024;

/** envelope.proto's limits on what the relay adds to an event (id max_len, attributes max_pairs). */
const MAX_ID_CHARS = 128;
const MAX_ATTRIBUTES = 16;

/** The attribute naming the device tenant on every event the relay forwards (Kafka header `attr.weir.device-tenant`). */
export const DEVICE_TENANT_ATTRIBUTE = "weir.device-tenant";

/**
 * The id a device's event travels upstream with: "<device tenant>/<device's id>".
 *
 * Why: the relay publishes every device's events as its one upstream tenant, and the gateway
 * deduplicates by (publishing tenant, id). Ids are unique per tenant only (envelope.proto), so
 * two device tenants using the same id would meet upstream: the second event, already ACKed to
 * its device, would be dropped as DUPLICATE. Qualified by the device tenant, they stay apart.
 * Deterministic, so a device's retry of an id (a lost ACK, a relay restart) is the same upstream
 * id and is still deduplicated — within one device tenant, ids keep the gateway's meaning.
 * Device tenants cannot contain "/" (the relay's config refuses them), so deviceEventOf splits
 * it back. Same spelling as the processor's tenant-qualified keys (kafka-contract.ts).
 */
export function upstreamId(deviceTenant: string, id: string): string {
  return tenantKey(deviceTenant, id);
}

/** The device tenant and the device's own id of an upstream id (undefined: not one the relay made). */
export function deviceEventOf(upstream: string): { tenant: string; id: string } | undefined {
  const split = splitTenantKey(upstream);
  return split ? { tenant: split.tenant, id: split.key } : undefined;
}

/** The envelope the relay stores and forwards for a device's event: its id qualified, the device tenant named, no envelope tenant. */
export function upstreamEnvelope(env: Envelope, deviceTenant: string): Envelope {
  // The relay publishes as its own upstream tenant: a device's tenant must not travel on in `tenant`.
  return { ...env, tenant: "", id: upstreamId(deviceTenant, env.id), attributes: { ...env.attributes, [DEVICE_TENANT_ATTRIBUTE]: deviceTenant } };
}

export type RelayStats = {
  devices: number;
  received: number;
  forwarded: number;
  dropped: number;
  /** Refused at the relay (never stored), and per error code. */
  refused: number;
  refusedByCode: Record<string, number>;
  /** Stored and ACKed, then refused for good by the cloud (see GET /v1/refusals), and per error code. */
  upstreamRefused: number;
  upstreamRefusedByCode: Record<string, number>;
};

export type RelayOptions = {
  /** The event types devices may send (default: config.schemaImage's, else the built-in ones, as the gateway). */
  readonly registry?: SchemaRegistry;
  /** Event times are checked and refusals stamped with its wall time. */
  readonly clock?: Pick<Clock, "wallMs">;
};

export type RelayLog = (level: "info" | "warn", msg: string, fields?: Record<string, unknown>) => void;

/**
 * A server-side WHATWG WebSocket as a protocol Transport. The WHATWG close() takes only 1000 and
 * 3000–4999; a code outside (1001, 1009, 1011) closes with 1000 — the ProtocolError frame sent
 * just before carries the real one.
 */
function transportOf(ws: WebSocket): Transport {
  return {
    send: (bytes) => {
      if (ws.readyState === 1 /* OPEN */) ws.send(bytes);
    },
    close: (code, reason) => ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason),
    bufferedAmount: () => ws.bufferedAmount,
  };
}

let builtin: SchemaRegistry | undefined;

export class Relay implements Publisher {
  readonly stats: RelayStats = {
    devices: 0,
    received: 0,
    forwarded: 0,
    dropped: 0,
    refused: 0,
    refusedByCode: {},
    upstreamRefused: 0,
    upstreamRefusedByCode: {},
  };
  private readonly conflator: Conflator;
  private readonly authenticator: Authenticator;
  private readonly limits: IngestLimits;
  private readonly checker: EventChecker;
  private readonly clock: Pick<Clock, "wallMs">;
  /** The cloud's final refusals of events the relay had ACKed, per device tenant. */
  readonly refusals: RefusalLog;

  constructor(
    readonly config: RelayConfig,
    readonly upstream: WeirClient,
    private readonly log: RelayLog = () => {},
    opts: RelayOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    const registry = opts.registry ?? (config.schemaImage ? SchemaRegistry.fromFile(config.schemaImage) : (builtin ??= SchemaRegistry.builtin()));
    this.checker = new EventChecker(registry, config.maxEventBytes, config.maxFutureSkewMs, this.clock);
    this.refusals = new RefusalLog(config.refusalLog.perTenant, config.refusalLog.maxTenants);
    this.conflator = new Conflator((env) => this.forward(env));
    this.authenticator = apiKeyAuthenticator(config.devices);
    const { credit, maxBatchEvents, maxEventBytes, maxSendBufferBytes, helloTimeoutMs } = config;
    this.limits = {
      connectionCredit: credit,
      maxBatchEvents,
      maxEventBytes,
      maxFrameBytes: Math.min(MAX_FRAME_BYTES, maxBatchEvents * (maxEventBytes + 1024)),
      maxSendBufferBytes,
      helloTimeoutMs,
    };
  }

  /** Serves one device connection (a server-side WHATWG WebSocket, e.g. from Deno.upgradeWebSocket). */
  accept(ws: WebSocket): void {
    ws.binaryType = "arraybuffer";
    const session = new IngestSession(transportOf(ws), {
      publisher: this,
      authenticator: this.authenticator,
      limits: this.limits,
      serverId: this.config.relayId,
      onPublisherError: (err) => this.log("warn", "storing a batch failed unexpectedly", { err: String(err) }),
    });
    let counted = false;
    ws.addEventListener("close", () => {
      session.onClose();
      if (counted) this.stats.devices--;
    });
    ws.addEventListener("message", (ev: MessageEvent) => {
      const text = typeof ev.data === "string";
      session.onMessage(text ? new Uint8Array(0) : new Uint8Array(ev.data as ArrayBuffer), !text);
      if (!counted && session.ready) {
        counted = true;
        this.stats.devices++;
      }
    });
  }

  /** Each event's answer for a device's batch, once it is stored, dropped or conflated (in order). */
  publish(tenant: string, events: readonly Envelope[], grants?: Grants): Promise<EventResult[]> {
    return this.store(events, tenant, grants);
  }

  /**
   * Why the relay refuses an event outright: the gateway's own check (EventChecker: size, control
   * characters, tenant, envelope and payload rules, grants, known type) with its codes, the size
   * counted on the envelope the relay forwards; then what the relay adds must still pass the
   * gateway's envelope rules (its id prefix within 128 characters, its attribute within 16).
   */
  private refusal(env: Envelope, up: Envelope, tenant: string, grants: Grants | undefined): WeirError | undefined {
    const checked = this.checker.check(env, tenant, grants, envelopeBytes(up));
    if (!checked.ok) return checked.error;
    if (Object.hasOwn(env.attributes, DEVICE_TENANT_ATTRIBUTE)) {
      return new WeirError("WEIR_ERR_INVALID_ENVELOPE", `attributes: ${DEVICE_TENANT_ATTRIBUTE} is set by the relay [weir.relay.device_tenant]`);
    }
    if (Object.keys(env.attributes).length >= MAX_ATTRIBUTES) {
      return new WeirError(
        "WEIR_ERR_INVALID_ENVELOPE",
        `attributes: at most ${MAX_ATTRIBUTES - 1} through a relay, which adds ${DEVICE_TENANT_ATTRIBUTE} [weir.relay.max_pairs]`,
      );
    }
    if (codePoints(up.id) > MAX_ID_CHARS) {
      const room = MAX_ID_CHARS - codePoints(tenant) - 1;
      return new WeirError(
        "WEIR_ERR_INVALID_ENVELOPE",
        `id: at most ${room} characters for tenant ${tenant} through a relay, which forwards "<tenant>/<id>" (at most ${MAX_ID_CHARS}) [weir.relay.id_len]`,
      );
    }
    return undefined;
  }

  /** Each event's answer for the device, once it is stored, dropped or conflated (in order). */
  private store(events: readonly Envelope[], tenant: string, grants: Grants | undefined): Promise<EventResult[]> {
    return Promise.all(
      events.map(async (env): Promise<EventResult> => {
        this.stats.received++;
        const up = upstreamEnvelope(env, tenant);
        const refusal = this.refusal(env, up, tenant, grants);
        if (refusal) {
          this.stats.refused++;
          count(this.stats.refusedByCode, refusal.code);
          const reason =
            refusal.code === "WEIR_ERR_EVENT_TOO_LARGE"
              ? `${refusal.message}, counted as forwarded: the relay adds ${envelopeBytes(up) - envelopeBytes(env)} bytes ("${tenant}/" before the id, the ${DEVICE_TENANT_ATTRIBUTE} attribute)`
              : refusal.message;
          return create(EventResultSchema, { id: env.id, code: refusal.spec.result, errorCode: refusal.code, reason });
        }
        const decision = decide(this.config.rules, env, tenant);
        try {
          if (decision.action === "drop") {
            this.stats.dropped++;
            return create(EventResultSchema, { id: env.id, code: ResultCode.ACK, reason: `dropped by relay rule ${decision.rule}` });
          }
          if (decision.action === "conflate") {
            await this.conflator.offer(decision.key, decision.windowMs, up);
            return create(EventResultSchema, { id: env.id, code: ResultCode.ACK });
          }
          await this.forward(up);
          return create(EventResultSchema, { id: env.id, code: ResultCode.ACK });
        } catch (err) {
          // The outbox could not take it (upstream refused the relay for good, disk full…): the device keeps it.
          this.log("warn", "event not stored", { id: up.id, err: String(err) });
          const e = new WeirError("WEIR_ERR_UPSTREAM_UNAVAILABLE", String(err));
          return create(EventResultSchema, { id: env.id, code: ResultCode.RETRY_AFTER, errorCode: e.code, reason: e.message, retryAfterMs: 1000 });
        }
      }),
    );
  }

  /**
   * A final answer of the upstream client (its onResult): a refusal (neither ACK nor DUPLICATE) of
   * an event the relay had ACKed is counted, logged and kept for its device tenant to read.
   */
  upstreamResult(result: EventResult): void {
    if (result.code === ResultCode.ACK || result.code === ResultCode.DUPLICATE) return;
    const errorCode = result.errorCode || (ResultCode[result.code] ?? String(result.code));
    this.stats.upstreamRefused++;
    count(this.stats.upstreamRefusedByCode, errorCode);
    this.log("warn", "upstream refused an event", { id: result.id, errorCode, reason: result.reason });
    const device = deviceEventOf(result.id);
    // An id without a configured device tenant (stored by an older relay, or a tenant since removed) has no one to read it.
    if (!device || !this.config.devices.has(device.tenant)) return;
    this.refusals.add(device.tenant, { id: device.id, errorCode, reason: result.reason, atMs: this.clock.wallMs() });
  }

  /**
   * GET /v1/refusals for a device: `Authorization: Basic base64(tenant:key)` with the credentials
   * it says Hello with; `?sinceMs=` keeps refusals at or after that time (poll with the last
   * `atMs` you have and skip ids you already have). 200 with a JSON array of Refusal, oldest
   * first; 401 without valid credentials; 405 for another method; 400 for a bad sinceMs.
   */
  async refusalsResponse(req: Request): Promise<Response> {
    const headers = { "cache-control": "no-store", "x-content-type-options": "nosniff" };
    if (req.method !== "GET") return new Response("method not allowed\n", { status: 405, headers: { ...headers, allow: "GET" } });
    const credentials = basicCredentials(req.headers.get("authorization"));
    const outcome = credentials
      ? await this.authenticator.authenticate(create(HelloSchema, { tenant: credentials.tenant, apiKey: credentials.apiKey }))
      : new WeirError("WEIR_ERR_UNAUTHORIZED");
    if (outcome instanceof WeirError) {
      return new Response("device credentials required (Authorization: Basic base64(tenant:key))\n", {
        status: 401,
        headers: { ...headers, "www-authenticate": 'Basic realm="weir-relay", charset="UTF-8"' },
      });
    }
    const since = new URL(req.url).searchParams.get("sinceMs");
    const sinceMs = since === null ? -Infinity : Number(since);
    if (since !== null && (since.trim() === "" || !Number.isFinite(sinceMs))) {
      return new Response("sinceMs must be a number (Unix ms)\n", { status: 400, headers });
    }
    const list: Refusal[] = this.refusals.list(outcome.tenant, sinceMs);
    return Response.json(list, { headers });
  }

  /** Into the durable outbox; resolves once stored (the upstream ack comes later). */
  private async forward(env: Envelope): Promise<void> {
    const receipt = await this.upstream.send(env);
    if (!receipt.alreadyQueued) this.stats.forwarded++;
  }

  /** Relay and upstream figures, for /v1/stats (counts only: no device tenant is named). */
  snapshot(): {
    relay: RelayStats & { conflating: number; superseded: number; refusalLog: { tenants: number; evicted: number } };
    upstream: WeirClient["stats"];
  } {
    return {
      relay: {
        ...this.stats,
        refusedByCode: { ...this.stats.refusedByCode },
        upstreamRefusedByCode: { ...this.stats.upstreamRefusedByCode },
        conflating: this.conflator.open,
        superseded: this.conflator.superseded,
        refusalLog: { tenants: this.refusals.tenants, evicted: this.refusals.evicted },
      },
      upstream: this.upstream.stats,
    };
  }
}

function count(byCode: Record<string, number>, code: string): void {
  byCode[code] = (byCode[code] ?? 0) + 1;
}

/** Characters as protovalidate's max_len counts them (code points). */
function codePoints(s: string): number {
  return [...s].length;
}
