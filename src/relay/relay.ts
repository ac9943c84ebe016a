/**
 * The edge relay's core, free of any server API: devices speak the gateway's /v1/ingest protocol
 * to it; each event passes the relay's rules (drop, conflate, forward) and is stored in the
 * upstream client's durable outbox before the device gets its ACK. The upstream WeirClient
 * forwards over one connection when the uplink is there, and keeps everything meanwhile (store
 * and forward); re-sent ids are deduplicated by the cloud gateway, so each stored event lands in
 * Kafka exactly once. Runs on Deno (./deno-main.ts) and, for tests, anywhere with a WebSocket.
 */
import { create } from "@bufbuild/protobuf";
import { EventResultSchema, ResultCode, type EventResult } from "../gen/weir/v1/protocol_pb.js";
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
import { granted, type Grants } from "../protocol/grants.js";

/** The largest message Deno's WebSocket takes (64 MiB), less room for the frame's own fields. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024 - 64 * 1024;

export type RelayStats = {
  devices: number;
  received: number;
  forwarded: number;
  dropped: number;
  refused: number;
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

export class Relay implements Publisher {
  readonly stats: RelayStats = { devices: 0, received: 0, forwarded: 0, dropped: 0, refused: 0 };
  private readonly conflator: Conflator;
  private readonly authenticator: Authenticator;
  private readonly limits: IngestLimits;

  constructor(
    readonly config: RelayConfig,
    readonly upstream: WeirClient,
    private readonly log: RelayLog = () => {},
  ) {
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

  /** Why the relay refuses an event outright, with the gateway's own codes for the same faults. */
  private refusal(env: Envelope, tenant: string, grants: Grants | undefined): WeirError | undefined {
    if (!env.id) return new WeirError("WEIR_ERR_INVALID_ENVELOPE", "missing id");
    if (!env.type) return new WeirError("WEIR_ERR_INVALID_ENVELOPE", "missing type");
    if (env.tenant && env.tenant !== tenant) return new WeirError("WEIR_ERR_TENANT_MISMATCH", env.tenant, tenant);
    if (grants && !granted(grants.publish, env.type)) return new WeirError("WEIR_ERR_FORBIDDEN_TYPE", tenant, env.type);
    const bytes = envelopeBytes(env);
    if (bytes > this.config.maxEventBytes) return new WeirError("WEIR_ERR_EVENT_TOO_LARGE", bytes, this.config.maxEventBytes);
    return undefined;
  }

  /** Each event's answer for the device, once it is stored, dropped or conflated (in order). */
  private store(events: readonly Envelope[], tenant: string, grants: Grants | undefined): Promise<EventResult[]> {
    return Promise.all(
      events.map(async (event): Promise<EventResult> => {
        let env = event;
        this.stats.received++;
        const refusal = this.refusal(env, tenant, grants);
        if (refusal) {
          this.stats.refused++;
          return create(EventResultSchema, { id: env.id, code: refusal.spec.result, errorCode: refusal.code, reason: refusal.message });
        }
        // The relay publishes as its own upstream tenant: a device's tenant must not travel on.
        if (env.tenant) env = { ...env, tenant: "" };
        const decision = decide(this.config.rules, env, tenant);
        try {
          if (decision.action === "drop") {
            this.stats.dropped++;
            return create(EventResultSchema, { id: env.id, code: ResultCode.ACK, reason: `dropped by relay rule ${decision.rule}` });
          }
          if (decision.action === "conflate") {
            await this.conflator.offer(decision.key, decision.windowMs, env);
            return create(EventResultSchema, { id: env.id, code: ResultCode.ACK });
          }
          await this.forward(env);
          return create(EventResultSchema, { id: env.id, code: ResultCode.ACK });
        } catch (err) {
          // The outbox could not take it (upstream refused the relay for good, disk full…): the device keeps it.
          this.log("warn", "event not stored", { id: env.id, err: String(err) });
          const e = new WeirError("WEIR_ERR_UPSTREAM_UNAVAILABLE", String(err));
          return create(EventResultSchema, { id: env.id, code: ResultCode.RETRY_AFTER, errorCode: e.code, reason: e.message, retryAfterMs: 1000 });
        }
      }),
    );
  }

  /** Into the durable outbox; resolves once stored (the upstream ack comes later). */
  private async forward(env: Envelope): Promise<void> {
    const receipt = await this.upstream.send(env);
    if (!receipt.alreadyQueued) this.stats.forwarded++;
  }

  /** Relay and upstream figures, for /v1/stats. */
  snapshot(): { relay: RelayStats & { conflating: number; superseded: number }; upstream: WeirClient["stats"] } {
    return { relay: { ...this.stats, conflating: this.conflator.open, superseded: this.conflator.superseded }, upstream: this.upstream.stats };
  }
}
