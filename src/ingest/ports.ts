/**
 * The ingest path's ports. The engine of the gateway (IngestService) speaks only these;
 * Kafka and Redis live in adapters (src/adapters/), so the service is testable without I/O.
 */
import type { EventResult } from "../gen/weir/v1/protocol_pb.js";

/** One record for the event log (Kafka). */
export type OutRecord = {
  readonly topic: string;
  readonly key: string;
  readonly value: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** Record timestamp (ms): the event time, so Kafka's own time index and consumers see it. */
  readonly timestampMs?: number;
};

/** A publish refused before any record reached a Kafka client (closed, not connected): nothing was written. */
export class NotPublishedError extends Error {
  override readonly name = "NotPublishedError";
}

export type TopicSpec = { readonly topic: string; readonly partitions: number; readonly compacted?: boolean };

export interface EventLog {
  /**
   * Resolves once the log has durably acknowledged every record (acks=all); rejects if any failed.
   * A rejection may leave records written (a leader that took them and was lost before it answered,
   * a producer that lost its sequence), unless it is a NotPublishedError.
   */
  publish(records: readonly OutRecord[]): Promise<void>;
  /** False while a send is stalled or failing: callers shed load instead of queueing behind it. */
  readonly healthy: boolean;
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>;
  close(): Promise<void>;
}

/** What a claim on an idempotency key found. */
export type Claim =
  | { readonly kind: "claimed" }
  | { readonly kind: "done" }
  /** Claimed by a live attempt, younger than the pending TTL: it will settle (confirm or release). */
  | { readonly kind: "pending"; readonly retryAfterMs: number; readonly ageMs?: number }
  /**
   * Claimed by an attempt that will not settle it: its gateway stopped heartbeating, or the claim
   * outlived the pending TTL. Its event may or may not be in Kafka: verify, then `takeOver` with
   * `value` (compare-and-swap), see docs/decisions/0010-stale-claims-verified-in-kafka.md.
   */
  | { readonly kind: "stale"; readonly value: string };

export interface DedupStore {
  /** Claims each key for this attempt (`token`) unless it is already published or claimed. One round trip. */
  claim(keys: readonly string[], token: string): Promise<Claim[]>;
  /** Marks keys as published, for the idempotency window. */
  confirm(keys: readonly string[]): Promise<void>;
  /** Drops this attempt's claims, so a retry can publish. Claims of other attempts are left alone. */
  release(keys: readonly string[], token: string): Promise<void>;
  /**
   * Claims stale keys for this attempt: each key only if it still holds the stale value seen
   * (`staleValues[i]`), so of several gateways taking over one key exactly one wins. One round trip.
   */
  takeOver(keys: readonly string[], staleValues: readonly string[], token: string): Promise<boolean[]>;
  readonly healthy: boolean;
  close(): Promise<void>;
}

/** One event whose claim is stale: where it would be in Kafka. */
export type PublishedQuery = { readonly topic: string; readonly tenant: string; readonly id: string; readonly timestampMs: number };

/** Whether events are already in the event log (Kafka), for claims their gateway never settled. */
export interface PublishedLookup {
  /**
   * The `tenant:id` keys of those `events` whose record is in the log (up to its current end).
   * Rejects when it cannot tell (Kafka unreachable, too much to scan): never guess "absent".
   */
  find(events: readonly PublishedQuery[]): Promise<Set<string>>;
}

/** What the ingest path reports for metrics (see src/metrics/). Every method must be cheap. */
export interface IngestObserver {
  /** One batch answered: its results, and the time from receipt to answer. */
  batch(results: readonly EventResult[], seconds: number): void;
  /** One Kafka publish of `records` records settled (ok or failed) after `seconds`. */
  publish(records: number, seconds: number, ok: boolean): void;
  /** One Redis round trip of the dedup store. */
  dedup(op: "claim" | "confirm" | "release", seconds: number): void;
  /** A claim found `hits` of `keys` ids already published. */
  dedupLookups(keys: number, hits: number): void;
  /**
   * Stale claims verified against Kafka: `found` (already there: DUPLICATE), `republished` (taken
   * over and published), `lost` (another gateway took them over first), `failed` (lookup or
   * take-over failed: RETRY_AFTER).
   */
  staleClaims?(outcome: StaleOutcome, count: number): void;
  /** Events of a failed publish looked for in Kafka: how many were written after all, how many not. */
  unknownOutcome?(written: number, absent: number): void;
}

export type StaleOutcome = "found" | "republished" | "lost" | "failed";
