/**
 * The edge relay's core, free of any server API: devices speak the gateway's /v1/ingest protocol
 * to it; each event passes the relay's rules (drop, conflate, forward) and is stored in the
 * upstream client's durable outbox before the device gets its ACK. The upstream WeirClient
 * forwards over one connection when the uplink is there, and keeps everything meanwhile (store
 * and forward); re-sent ids are deduplicated by the cloud gateway, so each stored event lands in
 * Kafka exactly once. Runs on Deno (./deno-main.ts) and, for tests, anywhere with a WebSocket.
 */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema, EventResultSchema, ResultCode, ServerFrameSchema, type EventResult } from "../gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { WeirError, type ErrorCode } from "../errors.js";
import type { WeirClient } from "../client/weir-client.js";
import { Conflator } from "./conflator.js";
import { decide } from "./rules.js";
import type { RelayConfig } from "./config.js";

const PROTOCOL_VERSION = 1;
const HELLO_TIMEOUT_MS = 10_000;
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

/** Compares secrets in time independent of where they differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export class Relay {
  readonly stats: RelayStats = { devices: 0, received: 0, forwarded: 0, dropped: 0, refused: 0 };
  private readonly conflator: Conflator;

  constructor(
    readonly config: RelayConfig,
    readonly upstream: WeirClient,
    private readonly log: RelayLog = () => {},
  ) {
    this.conflator = new Conflator((env) => this.forward(env));
  }

  /** Serves one device connection (a server-side WHATWG WebSocket, e.g. from Deno.upgradeWebSocket). */
  accept(ws: WebSocket): void {
    ws.binaryType = "arraybuffer";
    let tenant: string | undefined;
    let credit = this.config.credit;
    const send = (frame: MessageInitShape<typeof ServerFrameSchema>) => {
      if (ws.readyState === 1 /* OPEN */) ws.send(toBinary(ServerFrameSchema, create(ServerFrameSchema, frame)));
    };
    const refuse = (code: ErrorCode, ...args: Array<string | number>) => {
      const err = new WeirError(code, ...args);
      send({ frame: { case: "error", value: { errorCode: err.code, message: err.message, closeCode: err.spec.close ?? 1011 } } });
      ws.close(err.spec.close ?? 1011, err.code);
    };
    const helloTimer = setTimeout(() => tenant === undefined && refuse("WEIR_ERR_HELLO_TIMEOUT", HELLO_TIMEOUT_MS), HELLO_TIMEOUT_MS);
    ws.addEventListener("close", () => {
      clearTimeout(helloTimer);
      if (tenant !== undefined) this.stats.devices--;
    });
    ws.addEventListener("message", (ev: MessageEvent) => {
      if (typeof ev.data === "string") return refuse("WEIR_ERR_BAD_FRAME", "text frames are not part of the protocol");
      let frame;
      try {
        frame = fromBinary(ClientFrameSchema, new Uint8Array(ev.data as ArrayBuffer)).frame;
      } catch (err) {
        return refuse("WEIR_ERR_BAD_FRAME", (err as Error).message);
      }
      if (tenant === undefined) {
        if (frame.case !== "hello") return refuse("WEIR_ERR_HELLO_REQUIRED");
        const hello = frame.value;
        if (hello.protocolVersion !== PROTOCOL_VERSION) return refuse("WEIR_ERR_UNSUPPORTED_VERSION", hello.protocolVersion, PROTOCOL_VERSION);
        const key = this.config.devices.get(hello.tenant);
        if (key === undefined || !sameSecret(hello.apiKey, key)) return refuse("WEIR_ERR_UNAUTHORIZED");
        tenant = hello.tenant;
        clearTimeout(helloTimer);
        this.stats.devices++;
        const { credit: c, maxBatchEvents, maxEventBytes, relayId } = this.config;
        send({ frame: { case: "welcome", value: { sessionId: crypto.randomUUID(), credit: c, maxBatchEvents, maxEventBytes, maxFrameBytes: Math.min(MAX_FRAME_BYTES, maxBatchEvents * (maxEventBytes + 1024)), gatewayId: relayId } } });
        return;
      }
      if (frame.case === "ping") return send({ frame: { case: "pong", value: { nonce: frame.value.nonce } } });
      if (frame.case !== "publish") return refuse("WEIR_ERR_BAD_FRAME", `unexpected ${frame.case ?? "empty"} frame`);
      const { seq, events } = frame.value;
      if (events.length > this.config.maxBatchEvents) return refuse("WEIR_ERR_BATCH_TOO_LARGE", events.length, this.config.maxBatchEvents);
      if (events.length > credit) return refuse("WEIR_ERR_CREDIT_EXCEEDED", events.length, credit);
      credit -= events.length;
      void this.store(events, tenant).then((results) => {
        credit += events.length;
        send({ frame: { case: "result", value: { seq, results, credit: events.length } } });
      });
    });
  }

  /** Why the relay refuses an event outright, with the gateway's own codes for the same faults. */
  private refusal(env: Envelope, tenant: string): WeirError | undefined {
    if (!env.id) return new WeirError("WEIR_ERR_INVALID_ENVELOPE", "missing id");
    if (!env.type) return new WeirError("WEIR_ERR_INVALID_ENVELOPE", "missing type");
    if (env.tenant && env.tenant !== tenant) return new WeirError("WEIR_ERR_TENANT_MISMATCH", env.tenant, tenant);
    if (env.payload.byteLength > this.config.maxEventBytes) return new WeirError("WEIR_ERR_EVENT_TOO_LARGE", env.payload.byteLength, this.config.maxEventBytes);
    return undefined;
  }

  /** Each event's answer for the device, once it is stored, dropped or conflated (in order). */
  private store(events: readonly Envelope[], tenant: string): Promise<EventResult[]> {
    return Promise.all(
      events.map(async (event): Promise<EventResult> => {
        let env = event;
        this.stats.received++;
        const refusal = this.refusal(env, tenant);
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
