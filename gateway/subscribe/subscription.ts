/**
 * One subscriber connection (/v1/subscribe): Hello, one Subscribe, then deliveries until it
 * closes. Like IngestConnection it knows nothing of uWebSockets.js: a Transport carries its bytes.
 *
 * Positions: `next[p]` is the next offset of partition p this subscriber is to receive; every
 * delivery's resume token encodes `next` just after that record. A subscriber starting anywhere
 * but "latest" first catches up with its own read (`catching-up`), then joins the shared tail
 * (`live`), which delivers only records at or after `next`, so the hand-over has no gap and no
 * repeat.
 *
 * Slow subscribers: while the socket's send buffer is over the limit, deliveries wait in a
 * bounded SubscriberQueue; under "disconnect" a full queue closes the connection with 4409, under
 * "conflate" only the latest delivery per key is kept. Memory per subscriber is bounded either way.
 */
import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type Delivery, type ServerFrame, type Subscribe } from "../../src/gen/weir/v1/protocol_pb.js";
import { WeirError, isWeirError } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import { encodeResumeToken } from "../../src/subscribe/resume-token.js";
import { SubscriberQueue } from "../../src/subscribe/subscriber-queue.js";
import type { StreamSpec } from "../../src/subscribe/streams.js";
import type { Transport } from "../connection.js";
import { refuseHello } from "../hello.js";
import type { TailRecord } from "./topic-tail.js";

export type SubscriptionLimits = {
  readonly helloTimeoutMs: number;
  readonly maxSendBufferBytes: number;
  /** Deliveries (or, conflating, keys) a subscriber may have waiting before it is closed. */
  readonly maxPending: number;
};

/** What a subscription needs from the hub that owns the streams' readers. */
export interface StreamSource {
  stream(name: string): StreamSpec | undefined;
  streamNames(): string[];
  /** Starts delivering to `sub` (catch-up first unless it starts at the latest). */
  attach(sub: Subscription, spec: StreamSpec, request: Subscribe): Promise<void>;
  detach(sub: Subscription): void;
}

export type SubscriptionDeps = {
  readonly apiKeys: ReadonlyMap<string, string>;
  readonly source: StreamSource;
  readonly limits: SubscriptionLimits;
  readonly logger: Logger;
};

type State = "awaiting-hello" | "awaiting-subscribe" | "subscribing" | "streaming" | "closed";

/** Deliveries per frame: frames stay well under any frame limit and interleave with other sockets. */
const MAX_DELIVERIES_PER_FRAME = 500;

export class Subscription {
  readonly sessionId = randomUUID();
  tenant = "";
  spec: StreamSpec | undefined;
  key = "";
  keyPrefix = "";
  /** Next offset per partition (see the file comment). */
  next: number[] = [];
  private state: State = "awaiting-hello";
  private helloTimer: NodeJS.Timeout | undefined;
  private queue: SubscriberQueue<Delivery> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly deps: SubscriptionDeps,
  ) {
    this.helloTimer = setTimeout(() => this.fail(new WeirError("WEIR_ERR_HELLO_TIMEOUT", deps.limits.helloTimeoutMs)), deps.limits.helloTimeoutMs);
    this.helloTimer.unref();
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  /** Waiting deliveries (a measure of how far behind this subscriber is). */
  get pending(): number {
    return this.queue?.size ?? 0;
  }

  onMessage(bytes: Uint8Array, isBinary: boolean): void {
    if (this.state === "closed") return;
    if (!isBinary) return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "text frames are not part of the protocol"));
    let frame;
    try {
      frame = fromBinary(ClientFrameSchema, bytes).frame;
    } catch (err) {
      return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", (err as Error).message));
    }
    switch (frame.case) {
      case "hello": {
        if (this.state !== "awaiting-hello") return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "Hello sent twice"));
        const refused = refuseHello(frame.value, this.deps.apiKeys);
        if (refused) return this.fail(refused);
        clearTimeout(this.helloTimer);
        this.tenant = frame.value.tenant;
        this.state = "awaiting-subscribe";
        return this.write({ case: "welcome", value: { $typeName: "weir.v1.Welcome", sessionId: this.sessionId, credit: 0, maxBatchEvents: 0, maxEventBytes: 0, maxFrameBytes: 0, gatewayId: "" } });
      }
      case "subscribe":
        if (this.state === "awaiting-hello") return this.fail(new WeirError("WEIR_ERR_HELLO_REQUIRED"));
        if (this.state !== "awaiting-subscribe") return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "one Subscribe per connection"));
        return void this.subscribe(frame.value);
      case "ping":
        if (this.state === "awaiting-hello") return this.fail(new WeirError("WEIR_ERR_HELLO_REQUIRED"));
        return this.write({ case: "pong", value: { $typeName: "weir.v1.Pong", nonce: frame.value.nonce } });
      default:
        return this.fail(new WeirError(this.state === "awaiting-hello" ? "WEIR_ERR_HELLO_REQUIRED" : "WEIR_ERR_BAD_FRAME", "only Hello, Subscribe and Ping are accepted on /v1/subscribe"));
    }
  }

  private async subscribe(request: Subscribe): Promise<void> {
    const spec = this.deps.source.stream(request.stream);
    if (!spec) return this.fail(new WeirError("WEIR_ERR_UNKNOWN_STREAM", request.stream, this.deps.source.streamNames().join(", ")));
    this.state = "subscribing";
    this.spec = spec;
    this.key = request.key;
    this.keyPrefix = request.keyPrefix;
    this.queue = new SubscriberQueue<Delivery>(spec.policy, this.deps.limits.maxPending);
    try {
      await this.deps.source.attach(this, spec, request);
    } catch (err) {
      return this.fail(isWeirError(err) ? err : new WeirError("WEIR_ERR_SUBSCRIPTION_FAILED", (err as Error).message));
    }
    if (this.closed) return this.deps.source.detach(this);
    this.state = "streaming";
    this.write({ case: "subscribed", value: { $typeName: "weir.v1.Subscribed", stream: spec.name, slowPolicy: spec.policy } });
    this.flush();
  }

  /** Whether this subscriber wants the record (its tenant, its key filter), and as what. */
  deliveryOf(record: TailRecord, readAtMs: number): Delivery | undefined {
    const view = this.spec!.view(record.key, record.headers);
    if (!view || view.tenant !== this.tenant) return undefined;
    if (this.key && view.key !== this.key) return undefined;
    if (this.keyPrefix && !view.key.startsWith(this.keyPrefix)) return undefined;
    return {
      $typeName: "weir.v1.Delivery",
      key: view.key,
      value: record.value,
      contentType: this.spec!.contentType,
      timestampMs: BigInt(record.timestampMs),
      kind: view.kind,
      resumeToken: "",
      readAtMs: BigInt(readAtMs),
    };
  }

  /**
   * Records of one partition, in order, from the tail or the catch-up read: those at or after
   * `next` that this subscriber wants are delivered, each with its resume token.
   */
  offer(partition: number, records: readonly TailRecord[], readAtMs: number): void {
    if (this.state === "closed") return;
    const out: Delivery[] = [];
    for (const r of records) {
      if (r.offset < this.next[partition]!) continue;
      this.next[partition] = r.offset + 1;
      const d = this.deliveryOf(r, readAtMs);
      if (!d) continue;
      d.resumeToken = encodeResumeToken(this.spec!.topic, this.next);
      out.push(d);
    }
    this.deliver(out);
  }

  /** Moves `next` of a partition forward without deliveries (transaction markers, or records it skipped). */
  advance(partition: number, next: number): void {
    if (next > this.next[partition]!) this.next[partition] = next;
  }

  /** Sends deliveries now, or queues them while the socket is backed up (see the file comment). */
  deliver(deliveries: readonly Delivery[]): void {
    if (deliveries.length === 0 || this.state === "closed") return;
    if (this.state === "streaming" && this.queue!.size === 0 && this.transport.bufferedAmount() <= this.deps.limits.maxSendBufferBytes) {
      for (let i = 0; i < deliveries.length; i += MAX_DELIVERIES_PER_FRAME) this.sendDeliveries(deliveries.slice(i, i + MAX_DELIVERIES_PER_FRAME));
      return;
    }
    for (const d of deliveries) {
      if (!this.queue!.push(d)) return this.fail(new WeirError("WEIR_ERR_SLOW_SUBSCRIBER", this.queue!.size));
    }
  }

  /** Sends what the queue holds while the socket takes it (called again when it drains). */
  flush(): void {
    while (this.state === "streaming" && this.queue!.size > 0 && this.transport.bufferedAmount() <= this.deps.limits.maxSendBufferBytes) {
      this.sendDeliveries(this.queue!.take(MAX_DELIVERIES_PER_FRAME));
    }
  }

  onDrain(): void {
    this.flush();
  }

  onClose(): void {
    if (this.state !== "closed") this.state = "closed";
    clearTimeout(this.helloTimer);
    this.deps.source.detach(this);
  }

  fail(error: WeirError): void {
    if (this.state === "closed") return;
    const closeCode = error.spec.close ?? 4400;
    this.deps.logger.debug({ session: this.sessionId, code: error.code }, error.message);
    this.write({ case: "error", value: { $typeName: "weir.v1.ProtocolError", errorCode: error.code, message: error.message, closeCode } });
    this.state = "closed";
    clearTimeout(this.helloTimer);
    this.deps.source.detach(this);
    this.transport.close(closeCode, error.code);
  }

  private sendDeliveries(deliveries: Delivery[]): void {
    this.write({ case: "deliveries", value: { $typeName: "weir.v1.DeliveryBatch", deliveries } });
  }

  private write(frame: ServerFrame["frame"]): void {
    this.transport.send(toBinary(ServerFrameSchema, create(ServerFrameSchema, { frame })));
  }
}
