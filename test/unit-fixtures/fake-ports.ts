/**
 * In-memory EventLog, DedupStore, PublishedLookup and Clock for unit tests of the ingest path: no
 * Kafka, no Redis, no real time. The ports can be told to fail, and the event log can hold a
 * publish until the test settles it.
 */
import { vi } from "vitest";
import type { Claim, DedupStore, EventLog, OutRecord, PublishedLookup, PublishedQuery, TopicSpec } from "../../src/ingest/ports.js";
import type { Clock } from "../../src/ingest/clock.js";
import { headers } from "../../src/kafka-contract.js";

export type Deferred<T> = {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
};

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Tracks whether a promise has settled yet, without awaiting it. */
export function track<T>(p: Promise<T>): { readonly settled: boolean; readonly promise: Promise<T> } {
  const state = { settled: false, promise: p };
  p.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/** Lets every pending microtask (and promise chains a few levels deep) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** One call of FakeEventLog.publish. */
export class PublishCall {
  state: "pending" | "acked" | "failed" = "pending";
  private readonly done = deferred<void>();

  constructor(
    readonly records: readonly OutRecord[],
    private readonly log: FakeEventLog,
  ) {
    // The service may stop waiting (timeout); a late rejection must not be reported as unhandled.
    this.done.promise.catch(() => {});
  }

  get promise(): Promise<void> {
    return this.done.promise;
  }

  /** Kafka acknowledges every record of this call. */
  ack(): void {
    if (this.state !== "pending") throw new Error(`publish already ${this.state}`);
    this.state = "acked";
    this.log.records.push(...this.records);
    this.done.resolve();
  }

  /** Kafka fails this call: none of its records is in the log, unless `written` (failed, yet written). */
  fail(error: Error = new Error("broker not available"), written = false): void {
    if (this.state !== "pending") throw new Error(`publish already ${this.state}`);
    this.state = "failed";
    if (written) this.log.records.push(...this.records);
    this.done.reject(error);
  }
}

type LogBehaviour = { kind: "ack" } | { kind: "reject"; error: Error; written: boolean } | { kind: "hold" };

export class FakeEventLog implements EventLog {
  healthy = true;
  /** Records the log acknowledged, in publish order. */
  readonly records: OutRecord[] = [];
  /** Every publish call, whatever became of it. */
  readonly calls: PublishCall[] = [];
  readonly ensured: TopicSpec[] = [];
  closed = false;
  private behaviour: LogBehaviour = { kind: "ack" };
  private waiters: Array<{ count: number; resolve: (call: PublishCall) => void }> = [];

  /** Later publishes are acknowledged at once (the default). */
  ackAll(): this {
    this.behaviour = { kind: "ack" };
    return this;
  }

  /** Later publishes reject at once with `error`; with `written`, their records land in the log all the same. */
  rejectAll(error: Error = new Error("broker not available"), opts: { written?: boolean } = {}): this {
    this.behaviour = { kind: "reject", error, written: opts.written ?? false };
    return this;
  }

  /** Later publishes hang until the test calls `ack()` or `fail()` on their PublishCall. */
  holdAll(): this {
    this.behaviour = { kind: "hold" };
    return this;
  }

  publish(records: readonly OutRecord[]): Promise<void> {
    const call = new PublishCall([...records], this);
    this.calls.push(call);
    const behaviour = this.behaviour;
    if (behaviour.kind === "ack") call.ack();
    else if (behaviour.kind === "reject") call.fail(behaviour.error, behaviour.written);
    this.waiters = this.waiters.filter((w) => {
      if (this.calls.length < w.count) return true;
      w.resolve(this.calls[w.count - 1]!);
      return false;
    });
    return call.promise;
  }

  /** Resolves with the n-th publish call (1-based) once it has been made. */
  call(n: number): Promise<PublishCall> {
    if (this.calls.length >= n) return Promise.resolve(this.calls[n - 1]!);
    return new Promise((resolve) => this.waiters.push({ count: n, resolve }));
  }

  /** Acknowledged records of one topic. */
  recordsOf(topic: string): OutRecord[] {
    return this.records.filter((r) => r.topic === topic);
  }

  ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    this.ensured.push(...topics);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export type FakeDedupOptions = {
  readonly dedupTtlMs?: number;
  readonly pendingTtlMs?: number;
  /** Clock for key expiry; defaults to Date.now (so vi.useFakeTimers drives it). */
  readonly now?: () => number;
};

type Entry = { value: string; expiresAt: number };
export type DedupOp = "claim" | "confirm" | "release" | "takeOver";

/** The value of a published key, as in RedisDedupStore. */
const DONE = "d";

/** "<token>@<ms>" → token and claim time, as RedisDedupStore writes claims. */
function splitClaim(value: string): { token: string; atMs: number } {
  const at = value.lastIndexOf("@");
  return { token: value.slice(0, at), atMs: Number(value.slice(at + 1)) };
}

/** The gateway of a token "<gatewayId>/<batch>". */
function ownerOf(token: string): string {
  const slash = token.lastIndexOf("/");
  return slash < 0 ? token : token.slice(0, slash);
}

/** Holds a fake's calls while closed (a slow dependency) and lets them through when opened. */
class Gate {
  private held: Deferred<void> | undefined;
  close(): void {
    this.held ??= deferred<void>();
  }
  open(): void {
    this.held?.resolve();
    this.held = undefined;
  }
  async passed(): Promise<void> {
    if (this.held) await this.held.promise;
  }
}

/**
 * Same semantics as the Lua scripts of RedisDedupStore:
 *   claim    SET key <token>@<now> NX PX dedupTtl, else "done" if the value is "d", else pending
 *            while the owner is alive and the claim younger than pendingTtl, else stale (its value)
 *   takeOver SET key <token>@<now> PX dedupTtl if the value is still the stale one
 *   confirm  SET key "d" PX dedupTtl
 *   release  DEL key if its token is still <token>
 * Every owner is alive unless the test says it died (`ownerDied`).
 */
export class FakeDedupStore implements DedupStore {
  healthy = true;
  readonly commands: Array<{ op: DedupOp; keys: readonly string[]; token?: string }> = [];
  closed = false;
  private readonly entries = new Map<string, Entry>();
  private readonly deadOwners = new Set<string>();
  private failure: { error: Error; ops: ReadonlySet<DedupOp> } | undefined;
  private readonly gate = new Gate();
  private readonly dedupTtlMs: number;
  private readonly pendingTtlMs: number;
  private readonly now: () => number;

  constructor(opts: FakeDedupOptions = {}) {
    this.dedupTtlMs = opts.dedupTtlMs ?? 24 * 3600_000;
    this.pendingTtlMs = opts.pendingTtlMs ?? 120_000;
    this.now = opts.now ?? (() => Date.now());
  }

  /**
   * Later commands (all, or only those of `ops`) reject with `error`: Redis down, but `healthy`
   * has not noticed yet.
   */
  failWith(error: Error = new Error("Connection is closed."), ...ops: DedupOp[]): this {
    this.failure = { error, ops: new Set(ops.length > 0 ? ops : (["claim", "confirm", "release", "takeOver"] as const)) };
    return this;
  }

  /** Commands succeed again. */
  recover(): this {
    this.failure = undefined;
    return this;
  }

  /** Later commands wait until `resume()` (a slow Redis). */
  pause(): this {
    this.gate.close();
    return this;
  }

  resume(): this {
    this.gate.open();
    return this;
  }

  /** The gateway `owner` stopped heartbeating: its claims are stale. */
  ownerDied(owner: string): this {
    this.deadOwners.add(owner);
    return this;
  }

  async claim(keys: readonly string[], token: string): Promise<Claim[]> {
    await this.enter("claim", keys, token);
    return keys.map((key): Claim => {
      const entry = this.live(key);
      if (!entry) {
        this.entries.set(key, { value: `${token}@${this.now()}`, expiresAt: this.now() + this.dedupTtlMs });
        return { kind: "claimed" };
      }
      if (entry.value === DONE) return { kind: "done" };
      const { token: held, atMs } = splitClaim(entry.value);
      const age = this.now() - atMs;
      if (this.deadOwners.has(ownerOf(held)) || age >= this.pendingTtlMs) return { kind: "stale", value: entry.value };
      return { kind: "pending", retryAfterMs: this.pendingTtlMs - age };
    });
  }

  async takeOver(keys: readonly string[], staleValues: readonly string[], token: string): Promise<boolean[]> {
    await this.enter("takeOver", keys, token);
    return keys.map((key, i) => {
      if (this.live(key)?.value !== staleValues[i]) return false;
      this.entries.set(key, { value: `${token}@${this.now()}`, expiresAt: this.now() + this.dedupTtlMs });
      return true;
    });
  }

  async confirm(keys: readonly string[]): Promise<void> {
    await this.enter("confirm", keys);
    for (const key of keys) this.entries.set(key, { value: DONE, expiresAt: this.now() + this.dedupTtlMs });
  }

  async release(keys: readonly string[], token: string): Promise<void> {
    await this.enter("release", keys, token);
    for (const key of keys) if (this.tokenOf(key) === token) this.entries.delete(key);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** What the store holds for `key`: "done", "pending" (claimed by an attempt), or undefined. */
  state(key: string): "done" | "pending" | undefined {
    const entry = this.live(key);
    if (!entry) return undefined;
    return entry.value === DONE ? "done" : "pending";
  }

  /** The claim token held on `key`, if it is claimed. */
  tokenOf(key: string): string | undefined {
    const entry = this.live(key);
    return entry && entry.value !== DONE ? splitClaim(entry.value).token : undefined;
  }

  /** Puts a key in a state directly, e.g. a claim left by another gateway `ageMs` ago. */
  seed(key: string, value: "done" | { token: string; ageMs?: number }, ttlMs = this.dedupTtlMs): void {
    const stored = value === "done" ? DONE : `${value.token}@${this.now() - (value.ageMs ?? 0)}`;
    this.entries.set(key, { value: stored, expiresAt: this.now() + ttlMs });
  }

  private async enter(op: DedupOp, keys: readonly string[], token?: string): Promise<void> {
    this.commands.push({ op, keys: [...keys], ...(token !== undefined ? { token } : {}) });
    await this.gate.passed();
    if (this.failure?.ops.has(op)) throw this.failure.error;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

/**
 * PublishedLookup over a FakeEventLog: an event is "in Kafka" when the log acknowledged a record
 * on its topic with its weir.id and weir.tenant headers. Can be told to fail or to hold.
 */
export class FakePublishedLookup implements PublishedLookup {
  readonly calls: Array<readonly PublishedQuery[]> = [];
  private failure: Error | undefined;
  private readonly gate = new Gate();

  constructor(private readonly log: FakeEventLog) {}

  failWith(error: Error = new Error("Kafka unreachable")): this {
    this.failure = error;
    return this;
  }

  /** Lookups answer again. */
  recover(): this {
    this.failure = undefined;
    return this;
  }

  /** Later lookups wait until `resume()`. */
  pause(): this {
    this.gate.close();
    return this;
  }

  resume(): this {
    this.gate.open();
    return this;
  }

  async find(events: readonly PublishedQuery[]): Promise<Set<string>> {
    this.calls.push([...events]);
    await this.gate.passed();
    if (this.failure) throw this.failure;
    const found = new Set<string>();
    for (const e of events) {
      const there = this.log.records.some((r) => r.topic === e.topic && r.headers[headers.id] === e.id && r.headers[headers.tenant] === e.tenant);
      if (there) found.add(`${e.tenant}:${e.id}`);
    }
    return found;
  }
}

/** A clock that moves only when the test says so. */
export class FakeClock implements Clock {
  constructor(
    private wall = 1_700_000_000_000,
    private monotonic = 0,
  ) {}

  wallMs(): number {
    return this.wall;
  }

  monotonicMs(): number {
    return this.monotonic;
  }

  /** Time passes: both clocks move by `ms`. */
  advance(ms: number): this {
    this.wall += ms;
    this.monotonic += ms;
    return this;
  }

  /** The wall clock is set (an NTP step, maybe backwards); the monotonic clock does not move. */
  setWall(ms: number): this {
    this.wall = ms;
    return this;
  }
}

/** Waits until `assertion` stops throwing (polling every millisecond; with fake timers, advancing them). */
export function until<T>(assertion: () => T, timeoutMs = 2_000): Promise<T> {
  return vi.waitFor(assertion, { interval: 1, timeout: timeoutMs });
}
