/**
 * One ingest connection's protocol after the handshake (see ProtocolSession): credit, batches,
 * results. A batch spends one credit per event and gets it back with its PublishResult; a client
 * that sends past its credit or over max_batch_events is refused, so no connection can make the
 * server hold more than its credit window. Events go to a Publisher: the gateway's IngestService
 * (Kafka) or the relay's store-and-forward.
 */
import type { PublishBatch } from "../gen/weir/v1/protocol_pb.js";
import { WeirError, isWeirError } from "../errors.js";
import type { Authenticator, ConnectionSlot, Publisher, RefusalReport, SessionLog, Transport } from "./ports.js";
import { ProtocolSession, type ClientFrameBody, type Endpoint, type WelcomeFields } from "./session.js";

export type IngestLimits = {
  readonly connectionCredit: number;
  readonly maxBatchEvents: number;
  readonly maxEventBytes: number;
  /** Advertised in the Welcome; the server (uWS, Deno) enforces it on the socket. */
  readonly maxFrameBytes: number;
  /** Unsent bytes a client may leave unread before it is closed as a slow reader. */
  readonly maxSendBufferBytes: number;
  readonly helloTimeoutMs: number;
};

export type IngestSessionDeps = {
  readonly publisher: Publisher;
  readonly authenticator: Authenticator;
  readonly limits: IngestLimits;
  /** The server's name in the Welcome (gateway id, relay id). */
  readonly serverId: string;
  readonly log?: SessionLog;
  /** Every refusal, the connection's and each event's permission denials (the security audit trail). */
  readonly audit?: (refusal: RefusalReport) => void;
  /** An unexpected publisher failure (a bug, not client input): the connection closes with 1011. */
  readonly onPublisherError?: (err: unknown, sessionId: string) => void;
};

export class IngestSession implements Endpoint {
  private readonly session: ProtocolSession;
  private credit = 0;
  private inFlightBatches = 0;
  private settledWaiters: Array<() => void> = [];

  constructor(
    transport: Transport,
    private readonly deps: IngestSessionDeps,
    slot?: ConnectionSlot,
  ) {
    const { authenticator, limits, log } = deps;
    this.session = new ProtocolSession(
      transport,
      {
        authenticator,
        helloTimeoutMs: limits.helloTimeoutMs,
        maxSendBufferBytes: limits.maxSendBufferBytes,
        ...(log ? { log } : {}),
        ...(deps.audit ? { audit: deps.audit } : {}),
        ...(slot ? { slot } : {}),
      },
      this,
    );
  }

  get sessionId(): string {
    return this.session.sessionId;
  }

  get tenant(): string {
    return this.session.tenant;
  }

  /** Whether the client was welcomed (and has not gone since). */
  get ready(): boolean {
    return this.session.ready;
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

  onMessage(bytes: Uint8Array, isBinary: boolean): void {
    this.session.onMessage(bytes, isBinary);
  }

  onClose(): void {
    this.session.onClose();
  }

  fail(error: WeirError): void {
    this.session.fail(error);
  }

  onReady(): WelcomeFields {
    const { limits, serverId } = this.deps;
    this.credit = limits.connectionCredit;
    return {
      credit: limits.connectionCredit,
      maxBatchEvents: limits.maxBatchEvents,
      maxEventBytes: limits.maxEventBytes,
      maxFrameBytes: limits.maxFrameBytes,
      gatewayId: serverId,
    };
  }

  onFrame(frame: ClientFrameBody): void {
    if (frame.case === "publish") return this.onPublish(frame.value);
    this.fail(new WeirError("WEIR_ERR_BAD_FRAME", `${frame.case} is not accepted on /v1/ingest`));
  }

  onEnded(): void {}

  private onPublish(batch: PublishBatch): void {
    const n = batch.events.length;
    const { maxBatchEvents } = this.deps.limits;
    if (n > maxBatchEvents) return this.fail(new WeirError("WEIR_ERR_BATCH_TOO_LARGE", n, maxBatchEvents));
    if (n > this.credit) return this.fail(new WeirError("WEIR_ERR_CREDIT_EXCEEDED", n, this.credit));
    this.credit -= n;
    this.inFlightBatches++;
    this.deps.publisher
      .publish(this.session.tenant, batch.events, this.session.principal.grants)
      .then(
        (results) => {
          this.credit += n;
          const audit = this.deps.audit;
          if (audit) {
            for (const r of results) {
              if (r.errorCode === "WEIR_ERR_FORBIDDEN_TYPE" || r.errorCode === "WEIR_ERR_TENANT_MISMATCH")
                audit({ code: r.errorCode, tenant: this.session.tenant, peer: this.session.transport.peer ?? "" });
            }
          }
          this.session.send({ case: "result", value: { $typeName: "weir.v1.PublishResult", seq: batch.seq, results, credit: n } });
        },
        (err: unknown) => {
          // The publisher answers every event itself; reaching here is a bug, not client input.
          this.deps.onPublisherError?.(err, this.sessionId);
          this.fail(isWeirError(err) && err.spec.close !== undefined ? err : new WeirError("WEIR_ERR_INTERNAL", String((err as Error)?.message ?? err)));
        },
      )
      .finally(() => {
        this.inFlightBatches--;
        if (this.inFlightBatches === 0) this.settledWaiters.splice(0).forEach((resolve) => resolve());
      });
  }
}
