/**
 * One client connection's protocol state machine: Hello, credit, batches, results.
 * It knows nothing of uWebSockets.js: a Transport carries its bytes. The uWS server adapts
 * sockets to it, and tests drive it directly through `inject` (no socket at all).
 */
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { ServerFrameSchema, type ServerFrame, type Hello, type PublishBatch } from "../gen/weir/v1/protocol_pb.js";
import { WeirError, isWeirError } from "../errors.js";
import type { IngestService } from "../ingest/ingest-service.js";
import type { Logger } from "../log.js";

import { PROTOCOL_VERSION, decodeClientFrame, refuseHello } from "./handshake.js";

export { PROTOCOL_VERSION };

export interface Transport {
  send(bytes: Uint8Array): void;
  /** Close after flushing what was sent. */
  close(code: number, reason: string): void;
  /** Bytes sent but not yet written to the network. */
  bufferedAmount(): number;
}

export type ConnectionLimits = {
  readonly connectionCredit: number;
  readonly maxBatchEvents: number;
  readonly maxEventBytes: number;
  readonly maxFrameBytes: number;
  readonly maxSendBufferBytes: number;
  readonly helloTimeoutMs: number;
};

export type ConnectionDeps = {
  readonly service: IngestService;
  readonly apiKeys: ReadonlyMap<string, string>;
  readonly limits: ConnectionLimits;
  readonly gatewayId: string;
  readonly logger: Logger;
};

type State = "awaiting-hello" | "ready" | "closed";

export class IngestConnection {
  readonly sessionId = randomUUID();
  private state: State = "awaiting-hello";
  private tenant = "";
  private credit = 0;
  private inFlightBatches = 0;
  private helloTimer: NodeJS.Timeout | undefined;
  private settledWaiters: Array<() => void> = [];

  constructor(
    private readonly transport: Transport,
    private readonly deps: ConnectionDeps,
  ) {
    this.helloTimer = setTimeout(() => this.fail(new WeirError("WEIR_ERR_HELLO_TIMEOUT", deps.limits.helloTimeoutMs)), deps.limits.helloTimeoutMs);
    this.helloTimer.unref();
  }

  /** Credit granted to this client and not yet spent. */
  get creditLeft(): number {
    return this.credit;
  }

  get inFlight(): number {
    return this.inFlightBatches;
  }

  /** Resolves when no batch of this connection awaits its results. */
  idle(): Promise<void> {
    return this.inFlightBatches === 0 ? Promise.resolve() : new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Handles one WebSocket message. `bytes` must stay valid after return (the caller copies uWS buffers). */
  onMessage(bytes: Uint8Array, isBinary: boolean): void {
    if (this.state === "closed") return;
    const frame = decodeClientFrame(bytes, isBinary);
    if (frame instanceof WeirError) return this.fail(frame);
    switch (frame.case) {
      case "hello":
        return this.onHello(frame.value);
      case "publish":
        return this.onPublish(frame.value);
      case "ping":
        if (this.state !== "ready") return this.fail(new WeirError("WEIR_ERR_HELLO_REQUIRED"));
        return this.send({ case: "pong", value: { $typeName: "weir.v1.Pong", nonce: frame.value.nonce } });
      default:
        return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "frame has no known kind"));
    }
  }

  /** The transport closed (by either side). */
  onClose(): void {
    this.state = "closed";
    clearTimeout(this.helloTimer);
  }

  /** Ends the connection with a ProtocolError frame and the error's close code. */
  fail(error: WeirError): void {
    if (this.state === "closed") return;
    const closeCode = error.spec.close ?? 4400;
    this.deps.logger.debug({ session: this.sessionId, code: error.code }, error.message);
    this.write({ case: "error", value: { $typeName: "weir.v1.ProtocolError", errorCode: error.code, message: error.message, closeCode } });
    this.state = "closed";
    clearTimeout(this.helloTimer);
    this.transport.close(closeCode, error.code);
  }

  private onHello(hello: Hello): void {
    if (this.state !== "awaiting-hello") return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "Hello sent twice"));
    const refused = refuseHello(hello, this.deps.apiKeys);
    if (refused) return this.fail(refused);
    clearTimeout(this.helloTimer);
    this.state = "ready";
    this.tenant = hello.tenant;
    const { limits, gatewayId } = this.deps;
    this.credit = limits.connectionCredit;
    this.send({
      case: "welcome",
      value: {
        $typeName: "weir.v1.Welcome",
        sessionId: this.sessionId,
        credit: limits.connectionCredit,
        maxBatchEvents: limits.maxBatchEvents,
        maxEventBytes: limits.maxEventBytes,
        maxFrameBytes: limits.maxFrameBytes,
        gatewayId,
      },
    });
  }

  private onPublish(batch: PublishBatch): void {
    if (this.state !== "ready") return this.fail(new WeirError("WEIR_ERR_HELLO_REQUIRED"));
    const n = batch.events.length;
    const { maxBatchEvents } = this.deps.limits;
    if (n > maxBatchEvents) return this.fail(new WeirError("WEIR_ERR_BATCH_TOO_LARGE", n, maxBatchEvents));
    if (n > this.credit) return this.fail(new WeirError("WEIR_ERR_CREDIT_EXCEEDED", n, this.credit));
    this.credit -= n;
    this.inFlightBatches++;
    this.deps.service
      .publish(this.tenant, batch.events)
      .then(
        (results) => {
          this.credit += n;
          this.send({ case: "result", value: { $typeName: "weir.v1.PublishResult", seq: batch.seq, results, credit: n } });
        },
        (err: unknown) => {
          // IngestService answers every event itself; reaching here is a bug, not client input.
          this.deps.logger.error({ err, session: this.sessionId }, "publish failed unexpectedly");
          this.fail(isWeirError(err) ? err : new WeirError("WEIR_ERR_SHUTDOWN"));
        },
      )
      .finally(() => {
        this.inFlightBatches--;
        if (this.inFlightBatches === 0) this.settledWaiters.splice(0).forEach((resolve) => resolve());
      });
  }

  private send(frame: ServerFrame["frame"]): void {
    if (this.state === "closed") return;
    const buffered = this.transport.bufferedAmount();
    if (buffered > this.deps.limits.maxSendBufferBytes) return this.fail(new WeirError("WEIR_ERR_SLOW_READER", buffered));
    this.write(frame);
  }

  private write(frame: ServerFrame["frame"]): void {
    this.transport.send(toBinary(ServerFrameSchema, create(ServerFrameSchema, { frame })));
  }
}
