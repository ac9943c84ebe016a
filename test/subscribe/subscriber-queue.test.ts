/**
 * SubscriberQueue: what a backed-up subscriber has not taken yet, bounded either way.
 *   disconnect  every delivery in order, at most maxPending; one more is refused (the caller closes)
 *   conflate    the latest delivery per key, at most maxPending keys; a newer value replaces the
 *               older one and moves the key to the back
 */
import { describe, expect, it } from "vitest";
import { SubscriberQueue } from "../../src/subscribe/subscriber-queue.js";

type D = { readonly key: string; readonly n: number };
const d = (key: string, n: number): D => ({ key, n });

describe("SubscriberQueue: disconnect", () => {
  it("keeps every delivery, first in first out, and takes at most `max` at a time", () => {
    const q = new SubscriberQueue<D>("disconnect", 10);
    for (let n = 0; n < 7; n++) expect(q.push(d(`k${n % 2}`, n))).toBe(true);
    expect(q.size).toBe(7);
    expect(q.take(3).map((x) => x.n)).toEqual([0, 1, 2]);
    expect(q.size).toBe(4);
    expect(q.take(100).map((x) => x.n)).toEqual([3, 4, 5, 6]);
    expect(q.size).toBe(0);
    expect(q.take(5)).toEqual([]);
  });

  it("keeps repeated keys as separate deliveries (nothing is dropped)", () => {
    const q = new SubscriberQueue<D>("disconnect", 10);
    q.push(d("a", 1));
    q.push(d("a", 2));
    q.push(d("a", 3));
    expect(q.take(10)).toEqual([d("a", 1), d("a", 2), d("a", 3)]);
  });

  it("refuses the delivery beyond maxPending and keeps what it held", () => {
    const q = new SubscriberQueue<D>("disconnect", 3);
    expect([1, 2, 3].map((n) => q.push(d("a", n)))).toEqual([true, true, true]);
    expect(q.push(d("b", 4))).toBe(false);
    expect(q.size).toBe(3);
    expect(q.take(10).map((x) => x.n)).toEqual([1, 2, 3]);
    // Room again once taken.
    expect(q.push(d("b", 5))).toBe(true);
  });
});

describe("SubscriberQueue: conflate", () => {
  it("keeps only the latest delivery per key, counting keys", () => {
    const q = new SubscriberQueue<D>("conflate", 10);
    for (let n = 0; n < 100; n++) expect(q.push(d(`sym${n % 3}`, n))).toBe(true);
    expect(q.size).toBe(3);
    const out = q.take(10);
    expect(out).toEqual([d("sym0", 99), d("sym1", 97), d("sym2", 98)].sort((a, b) => a.n - b.n));
    expect(q.size).toBe(0);
  });

  it("hands keys out in the order of their latest update", () => {
    const q = new SubscriberQueue<D>("conflate", 10);
    q.push(d("a", 1));
    q.push(d("b", 2));
    q.push(d("c", 3));
    q.push(d("a", 4)); // a moves behind c
    expect(q.take(2)).toEqual([d("b", 2), d("c", 3)]);
    expect(q.take(2)).toEqual([d("a", 4)]);
  });

  it("bounds the distinct keys: a new key beyond maxPending is refused, a known key is still replaced", () => {
    const q = new SubscriberQueue<D>("conflate", 2);
    expect(q.push(d("a", 1))).toBe(true);
    expect(q.push(d("b", 2))).toBe(true);
    expect(q.push(d("c", 3))).toBe(false);
    expect(q.push(d("a", 4))).toBe(true);
    expect(q.size).toBe(2);
    expect(q.take(10)).toEqual([d("b", 2), d("a", 4)]);
  });

  it("stays bounded however many updates arrive", () => {
    const q = new SubscriberQueue<D>("conflate", 50);
    let refused = 0;
    for (let n = 0; n < 200_000; n++) if (!q.push(d(`s${n % 50}`, n))) refused++;
    expect(refused).toBe(0);
    expect(q.size).toBe(50);
    const out = q.take(1000);
    expect(out).toHaveLength(50);
    for (const x of out) expect(x.n).toBe(200_000 - 50 + Number(x.key.slice(1)));
  });
});

describe("SubscriberQueue: take with a byte budget", () => {
  const sized = (key: string, n: number, bytes: number) => ({ key, n, bytes });
  const budget = (bytes: number) => ({ bytes, sizeOf: (x: { bytes: number }) => x.bytes });

  it.each(["disconnect", "conflate"] as const)("%s: takes while the bytes fit, always at least one", (policy) => {
    const q = new SubscriberQueue<{ key: string; n: number; bytes: number }>(policy, 100);
    [400, 400, 400, 5000, 10].forEach((b, n) => q.push(sized(`k${n}`, n, b)));
    expect(q.take(10, budget(1000)).map((x) => x.n)).toEqual([0, 1]);
    expect(q.take(10, budget(1000)).map((x) => x.n)).toEqual([2]); // 400 + 5000 > 1000
    expect(q.take(10, budget(1000)).map((x) => x.n)).toEqual([3]); // alone, though over the budget
    expect(q.take(10, budget(1000)).map((x) => x.n)).toEqual([4]);
    expect(q.size).toBe(0);
  });

  it("still honours the count", () => {
    const q = new SubscriberQueue<{ key: string; n: number; bytes: number }>("disconnect", 100);
    for (let n = 0; n < 10; n++) q.push(sized("k", n, 1));
    expect(q.take(3, budget(1_000_000)).map((x) => x.n)).toEqual([0, 1, 2]);
  });
});
