/**
 * One subscriber connection (/v1/subscribe): the handshake (ProtocolSession, shared with ingest
 * and the relay), one Subscribe, then deliveries until it closes. It knows nothing of
 * uWebSockets.js: a Transport carries its bytes.
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
import type { Delivery, Subscribe } from "../gen/weir/v1/protocol_pb.js";
import { WeirError, isWeirError } from "../errors.js";
import { encodeResumeToken } from "./resume-token.js";
import { SubscriberQueue } from "./subscriber-queue.js";
import type { StreamSpec } from "./streams.js";
import type { Authenticator, ConnectionSlot, RefusalReport, SessionLog, Transport } from "../protocol/ports.js";
import { ProtocolSession, encodeServerFrame, type ClientFrameBody, type Endpoint, type ServerFrameBody, type WelcomeFields } from "../protocol/session.js";
import { granted } from "../protocol/grants.js";
import type { TailRecord } from "./ports.js";
import { SpanKind, type Span } from "@opentelemetry/api";
import { headers as recordHeaders } from "../kafka-contract.js";
import { contextOf, isSampled, kafkaAttributes, tracingActive, weirTracer } from "../tracing/tracing.js";

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
  readonly authenticator: Authenticator;
  readonly source: StreamSource;
  readonly limits: SubscriptionLimits;
  readonly log?: SessionLog;
  /** Every refusal (the security audit trail). */
  readonly audit?: (refusal: RefusalReport) => void;
  /** Event time → delivery, per delivery sent (metrics). */
  readonly onDelivered?: (stream: string, latencySeconds: number) => void;
};

/** After the handshake; "closed" once the session ended. */
type State = "awaiting-subscribe" | "subscribing" | "streaming" | "closed";

/** The encoded frame that starts with a delivery (and holds `count`), while the delivery lives. */
const encodedFrames = new WeakMap<Delivery, { count: number; bytes: Uint8Array }>();

/** Deliveries per frame: frames stay well under any frame limit and interleave with other sockets. */
const MAX_DELIVERIES_PER_FRAME = 500;

/** Bytes a delivery adds to a frame, roughly (a frame's byte budget is maxSendBufferBytes). */
function deliveryBytes(d: Delivery): number {
  return d.value.byteLength + d.key.length + d.resumeToken.length + d.contentType.length + d.kind.length + 32;
}

export class Subscription implements Endpoint {
  private readonly session: ProtocolSession;
  spec: StreamSpec | undefined;
  key = "";
  keyPrefix = "";
  /** Next offset per partition (see the file comment). */
  next: number[] = [];
  /** The resume token of where it started (sent with Subscribed). */
  private startToken = "";
  private state: State = "awaiting-subscribe";
  private queue: SubscriberQueue<Delivery> | undefined;
  /** Paced offers (offerPaced) waiting for this subscriber to take what it has. */
  private roomWaiters: Array<() => void> = [];

  constructor(
    private readonly transport: Transport,
    private readonly deps: SubscriptionDeps,
    slot?: ConnectionSlot,
  ) {
    this.session = new ProtocolSession(
      transport,
      {
        authenticator: deps.authenticator,
        helloTimeoutMs: deps.limits.helloTimeoutMs,
        ...(deps.log ? { log: deps.log } : {}),
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

  get closed(): boolean {
    return this.session.closed;
  }

  /** Waiting deliveries (a measure of how far behind this subscriber is). */
  get pending(): number {
    return this.queue?.size ?? 0;
  }

  onMessage(bytes: Uint8Array, isBinary: boolean): void {
    this.session.onMessage(bytes, isBinary);
  }

  onReady(): WelcomeFields {
    return {};
  }

  onFrame(frame: ClientFrameBody): void {
    if (frame.case !== "subscribe") return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", `${frame.case} is not accepted on /v1/subscribe`));
    if (this.state !== "awaiting-subscribe") return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "one Subscribe per connection"));
    void this.subscribe(frame.value);
  }

  private async subscribe(request: Subscribe): Promise<void> {
    const spec = this.deps.source.stream(request.stream);
    if (!spec) return this.fail(new WeirError("WEIR_ERR_UNKNOWN_STREAM", request.stream, this.deps.source.streamNames().join(", ")));
    const grants = this.session.principal.grants;
    if (grants && !granted(grants.subscribe, spec.name)) return this.fail(new WeirError("WEIR_ERR_FORBIDDEN_STREAM", this.tenant, spec.name));
    const bad = badRequest(request);
    if (bad) return this.fail(new WeirError("WEIR_ERR_BAD_SUBSCRIBE", bad));
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
    this.write({ case: "subscribed", value: { $typeName: "weir.v1.Subscribed", stream: spec.name, slowPolicy: spec.policy, resumeToken: this.startToken } });
    this.flush();
  }

  /** Where this subscription starts (set by the source before anything is offered). */
  startAt(next: number[]): void {
    this.next = next;
    this.startToken = encodeResumeToken(this.spec!.topic, next);
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
  offer(partition: number, records: readonly TailRecord[], readAtMs: number): readonly Delivery[] {
    if (this.state === "closed") return [];
    const out: Delivery[] = [];
    let spans: Span[] | undefined;
    for (const r of records) {
      if (r.offset < this.next[partition]!) continue;
      this.next[partition] = r.offset + 1;
      const d = this.deliveryOf(r, readAtMs);
      if (!d) continue;
      d.resumeToken = encodeResumeToken(this.spec!.topic, this.next);
      out.push(d);
      const tp = r.headers[recordHeaders.traceparent];
      if (isSampled(tp)) (spans ??= []).push(this.deliverySpan(tp, r, partition));
    }
    this.deliver(out);
    for (const span of spans ?? []) span.end();
    return out;
  }

  /**
   * The position and filter that decide what this subscriber gets: subscribers with the same
   * signature get the same deliveries from a tail batch (see `adopt`).
   */
  signature(): string {
    return `${this.tenant}\u0000${this.key}\u0000${this.keyPrefix}\u0000${this.next.join(",")}`;
  }

  /**
   * offer() for a subscriber with the same signature as `lead`, which has just been offered the
   * same records: it gets the very same deliveries (and so the same encoded frames, see
   * sendDeliveries) instead of computing and encoding its own — the fan-out's main cost.
   */
  adopt(lead: Subscription, partition: number, records: readonly TailRecord[], deliveries: readonly Delivery[]): void {
    if (this.state === "closed") return;
    this.next = [...lead.next];
    let spans: Span[] | undefined;
    if (tracingActive()) {
      for (const r of records) {
        const tp = r.headers[recordHeaders.traceparent];
        if (isSampled(tp) && this.deliveryOf(r, 0)) (spans ??= []).push(this.deliverySpan(tp, r, partition));
      }
    }
    this.deliver(deliveries);
    for (const span of spans ?? []) span.end();
  }

  /** The last hop of a traced event: its delivery to this subscriber (ended once sent or queued). */
  private deliverySpan(traceparent: string, r: TailRecord, partition: number): Span {
    return weirTracer().startSpan(
      `weir.deliver ${this.spec!.name}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: kafkaAttributes("receive", this.spec!.topic, {
          "messaging.destination.partition.id": String(partition),
          "messaging.kafka.offset": r.offset,
          "weir.subscriber.session": this.sessionId,
          "weir.tenant": this.tenant,
        }),
      },
      contextOf(traceparent),
    );
  }

  /** Moves `next` of a partition forward without deliveries (transaction markers, or records it skipped). */
  advance(partition: number, next: number): void {
    if (next > this.next[partition]!) this.next[partition] = next;
  }

  /**
   * Records of this subscriber's own read (the catch-up from a resume token, a time or the
   * earliest), offered at its pace: a chunk at a time, each once it has taken the previous one.
   * (Fix: offered all at once, a catch-up read — one Kafka fetch is thousands of records — filled
   * the queue faster than any socket drains, and a subscriber reading as fast as it could was
   * closed with 4409 as slow; test/integration/subscribe-slow.test.ts, "catching up a backlog".)
   * Only the shared tail, which cannot wait for one subscriber, is subject to the slow policy.
   */
  async offerPaced(partition: number, records: readonly TailRecord[], readAtMs: number): Promise<void> {
    const chunk = Math.max(1, Math.min(MAX_DELIVERIES_PER_FRAME, this.deps.limits.maxPending));
    for (let i = 0; i < records.length; i += chunk) {
      await this.room();
      if (this.state === "closed") return;
      this.offer(partition, records.slice(i, i + chunk), readAtMs);
    }
  }

  /** Resolves once nothing waits and the send buffer is under the limit (or the subscription closed). */
  private room(): Promise<void> {
    if (
      this.state === "closed" ||
      (this.state === "streaming" && this.queue!.size === 0 && this.transport.bufferedAmount() <= this.deps.limits.maxSendBufferBytes)
    )
      return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private wakeRoomWaiters(): void {
    for (const resolve of this.roomWaiters.splice(0)) resolve();
  }

  /**
   * Sends deliveries now, or queues them while the socket is backed up (see the file comment).
   * Frame by frame, each only while the send buffer is under the limit. (Fix: the whole batch
   * used to go out at once; uWS silently drops a message sent while the socket is over its
   * maxBackpressure, so deliveries — or the ProtocolError and close frame of a 4409, which the
   * client then saw as 1006 — could be lost; test/subscribe/subscription.test.ts, "does not write
   * past the send-buffer limit", and subscribe-slow.test.ts, the 4409 a stalled subscriber sees.)
   */
  deliver(deliveries: readonly Delivery[]): void {
    if (deliveries.length === 0 || this.state === "closed") return;
    let i = 0;
    if (this.state === "streaming" && this.queue!.size === 0) {
      while (i < deliveries.length && this.transport.bufferedAmount() <= this.deps.limits.maxSendBufferBytes) {
        const frame = this.frameAt(deliveries, i);
        this.sendDeliveries(frame);
        i += frame.length;
      }
    }
    for (; i < deliveries.length; i++) {
      if (!this.queue!.push(deliveries[i]!)) return this.fail(new WeirError("WEIR_ERR_SLOW_SUBSCRIBER", this.queue!.size));
    }
  }

  /** The next frame's deliveries from `from`: at most MAX_DELIVERIES_PER_FRAME and about maxSendBufferBytes (at least one). */
  private frameAt(deliveries: readonly Delivery[], from: number): Delivery[] {
    let end = from;
    let bytes = 0;
    while (end < deliveries.length && end - from < MAX_DELIVERIES_PER_FRAME) {
      bytes += deliveryBytes(deliveries[end]!);
      if (end > from && bytes > this.deps.limits.maxSendBufferBytes) break;
      end++;
    }
    return deliveries.slice(from, end);
  }

  /** Sends what the queue holds while the socket takes it (called again when it drains). */
  flush(): void {
    while (this.state === "streaming" && this.queue!.size > 0 && this.transport.bufferedAmount() <= this.deps.limits.maxSendBufferBytes) {
      this.sendDeliveries(this.queue!.take(MAX_DELIVERIES_PER_FRAME, { bytes: this.deps.limits.maxSendBufferBytes, sizeOf: deliveryBytes }));
    }
    if (this.state === "streaming" && this.queue!.size === 0 && this.transport.bufferedAmount() <= this.deps.limits.maxSendBufferBytes) this.wakeRoomWaiters();
  }

  onDrain(): void {
    this.flush();
  }

  onClose(): void {
    this.session.onClose();
  }

  fail(error: WeirError): void {
    this.session.fail(error);
  }

  /** The session ended (closed, refused or failed): stop waiting and leave the source. */
  onEnded(): void {
    this.state = "closed";
    this.wakeRoomWaiters();
    this.deps.source.detach(this);
  }

  private sendDeliveries(deliveries: Delivery[]): void {
    const observe = this.deps.onDelivered;
    if (observe) {
      const now = Date.now();
      for (const d of deliveries) observe(this.spec!.name, (now - Number(d.timestampMs)) / 1000);
    }
    // Subscribers sharing deliveries (adopt) frame them alike: encode each frame once.
    const first = deliveries[0]!;
    const cached = encodedFrames.get(first);
    if (cached && cached.count === deliveries.length) return this.transport.send(cached.bytes);
    const bytes = encodeServerFrame({ case: "deliveries", value: { $typeName: "weir.v1.DeliveryBatch", deliveries } });
    encodedFrames.set(first, { count: deliveries.length, bytes });
    this.transport.send(bytes);
  }

  private write(frame: ServerFrameBody): void {
    this.session.write(frame);
  }
}

/** Latest time a JavaScript Date (and so a Kafka timestamp lookup here) can name: 8.64e15 ms. */
const MAX_TIME_MS = 8_640_000_000_000_000n;
/** Longest key or key prefix a subscriber may filter by (Kafka keys of Weir's streams are short). */
const MAX_KEY_CHARS = 1024;

/** Why a Subscribe cannot be served whatever the stream holds (answered with a non-retryable close), or undefined. */
function badRequest(request: Subscribe): string | undefined {
  if (request.start.case === "fromTimestampMs" && (request.start.value < 0n || request.start.value > MAX_TIME_MS)) {
    return `from_timestamp_ms ${request.start.value} is outside 0..${MAX_TIME_MS}`;
  }
  if (request.key.length > MAX_KEY_CHARS || request.keyPrefix.length > MAX_KEY_CHARS) return `key filters are limited to ${MAX_KEY_CHARS} characters`;
  return undefined;
}
