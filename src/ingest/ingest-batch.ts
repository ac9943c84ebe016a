/**
 * One batch of events on its way through the ingest path: its events, what became of each, and
 * the answers the client gets (one per event, in batch order). Every event is answered exactly
 * once: answering an event twice, answering the repeat of an id, or reading the results while an
 * event is still unanswered is a bug, and throws rather than sending the client a wrong answer.
 * The batch also keeps what Kafka has yet to settle for it, so the gateway-wide admission is held
 * until then (docs/decisions/0004-credit-and-admission.md), even after the client stopped waiting.
 */
import { ResultCode, type EventResult } from "../gen/weir/v1/protocol_pb.js";
import type { Envelope } from "../gen/weir/v1/envelope_pb.js";
import { WeirError } from "../errors.js";
import type { EventChecker } from "./check-event.js";
import { envelopeBytes } from "./envelope-bytes.js";
import type { Grants } from "../protocol/grants.js";

/** Counts by outcome, for metrics and tests. */
export type IngestStats = Record<"ack" | "duplicate" | "invalid" | "retry", number>;

/** An event that passed its checks: to be claimed under `key` and published to `topic`. */
export type Accepted = { readonly index: number; readonly env: Envelope; readonly topic: string; readonly key: string };
/** An event refused by its checks: to be dead-lettered, then answered with `error`. */
export type Refused = { readonly index: number; readonly env: Envelope; readonly error: WeirError };

export type BatchAnswers = {
  /** Counted into as events are answered (the service's running totals). */
  readonly stats: IngestStats;
  /** What a RETRY_AFTER answer tells the client to wait. */
  readonly retryAfterMs: number;
};

/** An event's answer, less its id. */
export type Answer = { readonly code: ResultCode; readonly errorCode?: string; readonly reason?: string; readonly retryAfterMs?: number };

/**
 * An EventResult as a plain object with every field set: what `create(EventResultSchema, …)`
 * returns, without its reflection walk per call (one result per event: `create` measured 4% of
 * the gateway's main thread at its maximum rate). test/ingest/ingest-batch.test.ts checks the two agree.
 */
export function eventResult(id: string, a: Answer): EventResult {
  return { $typeName: "weir.v1.EventResult", id, code: a.code, errorCode: a.errorCode ?? "", reason: a.reason ?? "", retryAfterMs: a.retryAfterMs ?? 0 };
}

/** The idempotency key of an event: ids are unique per tenant. */
export function dedupKey(tenant: string, id: string): string {
  return `${tenant}:${id}`;
}

export class IngestBatch {
  /** Bytes of the batch's events, whole envelopes (envelopeBytes): what the admission counts. */
  readonly eventBytes: number;
  /** Each event's envelopeBytes, counted once: the admission sums them, the checker bounds each. */
  private readonly sizes: readonly number[];
  private readonly answered: Array<EventResult | undefined>;
  /** Later occurrences of an id → its first occurrence: answered from it when the batch closes. */
  private readonly repeats = new Map<number, number>();
  private checked = false;
  private closed: EventResult[] | undefined;
  private readonly settling: Array<Promise<unknown>> = [];

  constructor(
    readonly tenant: string,
    readonly events: readonly Envelope[],
    private readonly answers: BatchAnswers,
    /** The event types the connection may publish (absent: any). */
    private readonly grants?: Grants,
  ) {
    let bytes = 0;
    this.sizes = events.map((env) => envelopeBytes(env));
    for (const n of this.sizes) bytes += n;
    this.eventBytes = bytes;
    this.answered = new Array<EventResult | undefined>(events.length);
  }

  /**
   * Checks each event once: those to claim and publish, and those to dead-letter. A repeated id
   * within the batch is published at most once, so its later occurrences are not checked: they
   * take their first occurrence's answer (see `results`).
   */
  check(checker: Pick<EventChecker, "check">): { accepted: Accepted[]; refused: Refused[] } {
    if (this.checked) throw new Error("the batch is already checked");
    this.checked = true;
    const accepted: Accepted[] = [];
    const refused: Refused[] = [];
    const firstIndex = new Map<string, number>();
    for (let index = 0; index < this.events.length; index++) {
      const env = this.events[index]!;
      const first = firstIndex.get(env.id);
      if (first !== undefined) {
        this.repeats.set(index, first);
        continue;
      }
      // An empty id is invalid; it is checked (and refused) on its own, never taken for a repeat.
      if (env.id) firstIndex.set(env.id, index);
      const checked = checker.check(env, this.tenant, this.grants, this.sizes[index]);
      if (checked.ok) accepted.push({ index, env, topic: checked.type.topic, key: dedupKey(this.tenant, env.id) });
      else refused.push({ index, env, error: checked.error });
    }
    return { accepted, refused };
  }

  /** Kafka has the event. */
  ack(index: number): void {
    this.answer(index, "ack", { code: ResultCode.ACK });
  }

  /** The event was published before (by this attempt or another): not republished. */
  duplicate(index: number): void {
    this.answer(index, "duplicate", { code: ResultCode.DUPLICATE });
  }

  /** The event was refused for good (INVALID, UNKNOWN_TYPE, ...): its dead letter is in Kafka. */
  refuse(index: number, error: WeirError): void {
    this.answer(index, "invalid", { code: error.spec.result ?? ResultCode.UNSPECIFIED, errorCode: error.code, reason: error.message });
  }

  /** Nothing was published for the event: the client resends it (same id) after `retryAfterMs` (default: the batch's). */
  retry(index: number, error: WeirError, retryAfterMs = this.answers.retryAfterMs): void {
    this.answer(index, "retry", { code: ResultCode.RETRY_AFTER, errorCode: error.code, reason: error.message, retryAfterMs });
  }

  /** Answers every event still unanswered RETRY_AFTER (a batch refused as a whole). */
  retryAll(error: WeirError, retryAfterMs = this.answers.retryAfterMs): void {
    for (const index of this.pending()) this.retry(index, error, retryAfterMs);
  }

  /** Indexes of the events not answered yet (repeats of an id are answered with their first occurrence). */
  pending(): number[] {
    const open: number[] = [];
    for (let i = 0; i < this.answered.length; i++) if (this.answered[i] === undefined && !this.repeats.has(i)) open.push(i);
    return open;
  }

  /**
   * The answers, in batch order, once every event is answered. A repeated id is answered from its
   * first occurrence: DUPLICATE when that one was published (one ACK per id), else the same answer.
   */
  results(): EventResult[] {
    if (this.closed) return this.closed;
    const open = this.pending();
    if (open.length > 0) throw new Error(`events ${open.join(", ")} of the batch are not answered`);
    for (const [index, first] of this.repeats) {
      const firstResult = this.answered[first]!;
      const id = this.events[index]!.id;
      const published = firstResult.code === ResultCode.ACK || firstResult.code === ResultCode.DUPLICATE;
      if (published) this.answers.stats.duplicate++;
      this.answered[index] = published ? eventResult(id, { code: ResultCode.DUPLICATE }) : { ...firstResult, id };
    }
    this.closed = this.answered as EventResult[];
    return this.closed;
  }

  /** Kafka is still settling something for this batch (a publish, then its confirm or release). */
  settlesWith(settling: Promise<unknown>): void {
    this.settling.push(settling);
  }

  /** Resolves (never rejects) once everything passed to `settlesWith` so far has settled. */
  settled(): Promise<void> {
    return Promise.allSettled(this.settling).then(() => {});
  }

  private answer(index: number, outcome: keyof IngestStats, result: Answer): void {
    if (index < 0 || index >= this.events.length) throw new RangeError(`no event ${index} in a batch of ${this.events.length}`);
    if (this.closed) throw new Error("the batch is already answered");
    if (this.repeats.has(index)) throw new Error(`event ${index} repeats an id: it is answered with its first occurrence`);
    if (this.answered[index] !== undefined) throw new Error(`event ${index} of the batch is already answered`);
    this.answers.stats[outcome]++;
    this.answered[index] = eventResult(this.events[index]!.id, result);
  }
}
