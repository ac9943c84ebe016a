/**
 * A stand-in for the gateway's WebSocket protocol (Hello → Welcome, PublishBatch → PublishResult),
 * for unit tests of the client's own behaviour: batching, credit, failover, retries. The real
 * gateway (Kafka, Redis) is exercised by the integration tests; this only plays its protocol.
 */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { WebSocketServer, type WebSocket } from "ws";
import { ClientFrameSchema, EventResultSchema, ResultCode, ServerFrameSchema, type EventResult } from "../../src/gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";

export type FakeGatewayOptions = {
  credit?: number;
  maxBatchEvents?: number;
  /** The answer to one event (default ACK; DUPLICATE for an id already acked). */
  answer?: (env: Envelope, attempt: number) => Partial<Omit<EventResult, "$typeName" | "$unknown">> | undefined;
  /** Hold results until release() (to test credit and backpressure). */
  hold?: boolean;
  apiKey?: string;
  /** Default: a free port. */
  port?: number;
  /** Never answers Hello (a gateway that accepts TCP and stalls). */
  silent?: boolean;
  /** Closes (1011) right after its Welcome, every time. */
  closeAfterWelcome?: boolean;
  /** Answers the whole `index`th batch (0-based) RETRY_AFTER, as the gateway does when overloaded. */
  refuseBatch?: (index: number) => boolean;
};

export class FakeGateway {
  readonly batches: Envelope[][] = [];
  readonly acked = new Set<string>();
  readonly attempts = new Map<string, number>();
  /** Events received and not yet answered, at most, over the fake's life. */
  maxOutstanding = 0;
  private outstanding = 0;
  private held: Array<() => void> = [];
  private readonly sockets = new Set<WebSocket>();
  /** Hello frames received (connection attempts that got as far as Hello). */
  hellos = 0;
  /** While true, every frame is ignored and nothing is sent: a half-open connection. */
  frozen = false;

  private constructor(
    private readonly server: WebSocketServer,
    readonly url: string,
    private readonly opts: FakeGatewayOptions,
  ) {
    server.on("connection", (ws) => this.onConnection(ws));
  }

  static async start(opts: FakeGatewayOptions = {}): Promise<FakeGateway> {
    const server = new WebSocketServer({ host: "127.0.0.1", port: opts.port ?? 0 });
    await new Promise((r) => server.once("listening", r));
    const port = (server.address() as { port: number }).port;
    return new FakeGateway(server, `ws://127.0.0.1:${port}/v1/ingest`, opts);
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Answers every held batch. */
  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  /** Drops every connection abruptly (no close frame), as a crashed gateway would. */
  kill(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  async close(): Promise<void> {
    this.kill();
    await new Promise((r) => this.server.close(r));
  }

  private send(ws: WebSocket, frame: MessageInitShape<typeof ServerFrameSchema>): void {
    ws.send(toBinary(ServerFrameSchema, create(ServerFrameSchema, frame)));
  }

  private onConnection(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on("close", () => this.sockets.delete(ws));
    ws.on("message", (data: Buffer) => {
      if (this.frozen) return;
      const frame = fromBinary(ClientFrameSchema, new Uint8Array(data)).frame;
      if (frame.case === "ping") {
        this.send(ws, { frame: { case: "pong", value: { nonce: frame.value.nonce } } });
      } else if (frame.case === "hello") {
        this.hellos++;
        if (this.opts.silent) return;
        if (this.opts.apiKey && frame.value.apiKey !== this.opts.apiKey) {
          this.send(ws, { frame: { case: "error", value: { errorCode: "WEIR_ERR_UNAUTHORIZED", message: "bad key", closeCode: 4401 } } });
          ws.close(4401, "WEIR_ERR_UNAUTHORIZED");
          return;
        }
        this.send(ws, {
          frame: {
            case: "welcome",
            value: {
              sessionId: "s",
              credit: this.opts.credit ?? 1000,
              maxBatchEvents: this.opts.maxBatchEvents ?? 500,
              maxFrameBytes: 1 << 20,
              gatewayId: this.url,
            },
          },
        });
        if (this.opts.closeAfterWelcome) ws.close(1011, "internal error");
      } else if (frame.case === "publish") {
        const { seq, events } = frame.value;
        this.batches.push(events);
        this.outstanding += events.length;
        this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
        const refused = this.opts.refuseBatch?.(this.batches.length - 1) === true;
        const answer = () => {
          this.outstanding -= events.length;
          const results = refused
            ? events.map((env) => create(EventResultSchema, { id: env.id, code: ResultCode.RETRY_AFTER, retryAfterMs: 20, errorCode: "WEIR_ERR_OVERLOADED" }))
            : events.map((env) => this.resultOf(env));
          if (ws.readyState === ws.OPEN) this.send(ws, { frame: { case: "result", value: { seq, results, credit: events.length } } });
        };
        if (this.opts.hold) this.held.push(answer);
        else answer();
      }
    });
  }

  private resultOf(env: Envelope): EventResult {
    const attempt = (this.attempts.get(env.id) ?? 0) + 1;
    this.attempts.set(env.id, attempt);
    const custom = this.opts.answer?.(env, attempt);
    if (custom) return create(EventResultSchema, { id: env.id, ...custom });
    const code = this.acked.has(env.id) ? ResultCode.DUPLICATE : ResultCode.ACK;
    this.acked.add(env.id);
    return create(EventResultSchema, { id: env.id, code });
  }
}
