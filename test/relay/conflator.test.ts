/**
 * Conflation windows (src/relay/conflator.ts) on a manual clock: the scheduled window closes are
 * collected and fired by the test; the store is a fake whose writes the test settles.
 */
import { expect, test } from "vitest";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { Conflator } from "../../src/relay/conflator.js";
import { quoteEvent } from "../unit-fixtures/events.js";

type Write = { env: Envelope; resolve(): void; reject(err: unknown): void };

/** A Conflator on a manual clock, with a store whose writes stay pending until the test settles them. */
function harness() {
  const timers: Array<{ ms: number; fn: () => void }> = [];
  const writes: Write[] = [];
  const store = (env: Envelope) => new Promise<void>((resolve, reject) => writes.push({ env, resolve, reject }));
  const conflator = new Conflator(store, (ms, fn) => void timers.push({ ms, fn }));
  /** Fires every window close scheduled so far. */
  const tick = () => timers.splice(0).forEach((t) => t.fn());
  return { conflator, timers, writes, tick };
}

/** Watches a promise: `state()` says whether it is pending, resolved or rejected (after the microtasks ran). */
function watch(p: Promise<void>): () => "pending" | "resolved" | "rejected" {
  let s: "pending" | "resolved" | "rejected" = "pending";
  p.then(
    () => (s = "resolved"),
    () => (s = "rejected"),
  );
  return () => s;
}

const settle = () => new Promise<void>((r) => setImmediate(r));

test("only the latest event of a window is stored, and every offer of the window resolves once it is", async () => {
  const { conflator, timers, writes, tick } = harness();
  const offers = Array.from({ length: 10 }, (_, i) => watch(conflator.offer("ACME", 50, quoteEvent(`q${i}`, { partitionKey: "ACME" }))));
  // One window, one close scheduled, with the rule's window length.
  expect(timers.map((t) => t.ms)).toEqual([50]);
  expect(conflator.open).toBe(1);
  expect(conflator.superseded).toBe(9);
  await settle();
  expect(writes).toHaveLength(0);
  expect(offers.map((s) => s())).toEqual(Array(10).fill("pending"));

  tick();
  expect(conflator.open).toBe(0);
  expect(writes.map((w) => w.env.id)).toEqual(["q9"]);
  // Closed but not stored yet: nothing is answered.
  await settle();
  expect(offers.map((s) => s())).toEqual(Array(10).fill("pending"));

  writes[0]!.resolve();
  await settle();
  expect(offers.map((s) => s())).toEqual(Array(10).fill("resolved"));
});

test("a failed store rejects every offer of that window, with the store's error", async () => {
  const { conflator, writes, tick } = harness();
  const promises = [1, 2, 3].map((i) => conflator.offer("k", 10, quoteEvent(`q${i}`)));
  tick();
  const boom = new Error("disk full");
  writes[0]!.reject(boom);
  const outcomes = await Promise.allSettled(promises);
  expect(outcomes).toEqual([1, 2, 3].map(() => ({ status: "rejected", reason: boom })));
});

test("a window closed, the next offer of the key opens a new one", async () => {
  const { conflator, timers, writes, tick } = harness();
  const first = watch(conflator.offer("k", 20, quoteEvent("a1")));
  const first2 = watch(conflator.offer("k", 20, quoteEvent("a2")));
  tick();
  expect(conflator.open).toBe(0);

  // The old window is still being stored: a new offer opens a second window, not joining the first.
  const second = watch(conflator.offer("k", 20, quoteEvent("b1")));
  expect(conflator.open).toBe(1);
  expect(timers).toHaveLength(1);
  expect(conflator.superseded).toBe(1);

  writes[0]!.resolve();
  await settle();
  expect([first(), first2(), second()]).toEqual(["resolved", "resolved", "pending"]);

  tick();
  expect(writes.map((w) => w.env.id)).toEqual(["a2", "b1"]);
  writes[1]!.resolve();
  await settle();
  expect(second()).toBe("resolved");
});

test("keys are independent: each has its own window, survivor and outcome", async () => {
  const { conflator, timers, writes, tick } = harness();
  const acme = [1, 2, 3].map((i) => watch(conflator.offer("ACME", 30, quoteEvent(`acme-${i}`))));
  const bolt = [1, 2].map((i) => watch(conflator.offer("BOLT", 70, quoteEvent(`bolt-${i}`))));
  expect(timers.map((t) => t.ms)).toEqual([30, 70]);
  expect(conflator.open).toBe(2);
  expect(conflator.superseded).toBe(3);

  // Only ACME's window closes.
  timers.shift()!.fn();
  expect(conflator.open).toBe(1);
  expect(writes.map((w) => w.env.id)).toEqual(["acme-3"]);
  writes[0]!.reject(new Error("nope"));
  await settle();
  expect(acme.map((s) => s())).toEqual(["rejected", "rejected", "rejected"]);
  expect(bolt.map((s) => s())).toEqual(["pending", "pending"]);

  tick();
  expect(writes.map((w) => w.env.id)).toEqual(["acme-3", "bolt-2"]);
  writes[1]!.resolve();
  await settle();
  expect(bolt.map((s) => s())).toEqual(["resolved", "resolved"]);
  expect(conflator.open).toBe(0);
});

test("a window with one event stores that event and supersedes nothing", async () => {
  const { conflator, writes, tick } = harness();
  const only = watch(conflator.offer("k", 5, quoteEvent("solo")));
  tick();
  expect(writes.map((w) => w.env.id)).toEqual(["solo"]);
  writes[0]!.resolve();
  await settle();
  expect(only()).toBe("resolved");
  expect(conflator.superseded).toBe(0);
});

test("the default schedule is a real timer of windowMs", async () => {
  const stored: string[] = [];
  const conflator = new Conflator((env) => {
    stored.push(env.id);
    return Promise.resolve();
  });
  const started = Date.now();
  await Promise.all([conflator.offer("k", 30, quoteEvent("a")), conflator.offer("k", 30, quoteEvent("b"))]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  expect(stored).toEqual(["b"]);
});
