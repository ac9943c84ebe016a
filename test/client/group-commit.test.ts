/**
 * GroupCommitQueue (src/client/group-commit.ts), the file outbox's write scheduler: mutations that
 * queue up while a commit runs go together as the next group, up to the weight limit; exclusive
 * jobs run alone, in call order; a failed commit fails exactly its group.
 */
import { expect, test } from "vitest";
import { GroupCommitQueue } from "../../src/client/group-commit.js";

/** A queue whose commits wait until the test lets them finish; it records every group and job. */
function harness(maxGroupWeight = Infinity) {
  const log: string[] = [];
  const pending: Array<{ group: string[]; finish(err?: Error): void }> = [];
  let waiter: (() => void) | undefined;
  const queue = new GroupCommitQueue<string>({
    commit: (group) =>
      new Promise<void>((resolve, reject) => {
        log.push(`commit ${group.join(",")}`);
        pending.push({ group, finish: (err) => (err ? reject(err) : resolve()) });
        waiter?.();
      }),
    weigh: (m) => m.length,
    maxGroupWeight,
    afterGroup: () => {
      log.push("after");
      return Promise.reject(new Error("ignored"));
    },
  });
  /** The commit in flight, once it started. */
  const inFlight = async () => {
    while (pending.length === 0) await new Promise<void>((res) => (waiter = res));
    return pending.shift()!;
  };
  return { queue, log, inFlight };
}

test("mutations made while a commit runs are committed together, in call order, after it", async () => {
  const { queue, log, inFlight } = harness();
  const first = queue.mutate("a");
  const commitA = await inFlight();
  const rest = ["b", "c", "d"].map((m) => queue.mutate(m));
  commitA.finish();
  await first;
  const commitBcd = await inFlight();
  expect(commitBcd.group).toEqual(["b", "c", "d"]);
  commitBcd.finish();
  await Promise.all(rest);
  expect(log).toEqual(["commit a", "after", "commit b,c,d", "after"]);
});

test("a group stops growing at the weight limit, and always takes one mutation", async () => {
  const { queue, inFlight } = harness(4);
  const first = queue.mutate("x");
  const commitX = await inFlight();
  const rest = ["aa", "bb", "cc", "dddddd", "e"].map((m) => queue.mutate(m));
  commitX.finish();
  await first;
  const groups: string[][] = [];
  for (let settled = false; !settled; ) {
    const c = await inFlight();
    groups.push(c.group);
    c.finish();
    settled = groups.flat().length === 5;
  }
  await Promise.all(rest);
  expect(groups).toEqual([["aa", "bb"], ["cc", "dddddd"], ["e"]]);
});

test("exclusive jobs run alone, between the groups queued before and after them", async () => {
  const { queue, log, inFlight } = harness();
  const a = queue.mutate("a");
  const commitA = await inFlight();
  const b = queue.mutate("b");
  const x = queue.exclusive(() => {
    log.push("exclusive");
    return Promise.resolve(42);
  });
  const c = queue.mutate("c");
  commitA.finish();
  (await inFlight()).finish();
  (await inFlight()).finish();
  await Promise.all([a, b, c]);
  expect(await x).toBe(42);
  expect(log).toEqual(["commit a", "after", "commit b", "after", "exclusive", "commit c", "after"]);
  await expect(queue.exclusive(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
});

test("a failed commit rejects its own group only; the queue goes on", async () => {
  const { queue, inFlight } = harness();
  const a = queue.mutate("a");
  const commitA = await inFlight();
  const failing = [queue.mutate("b"), queue.mutate("c")];
  commitA.finish();
  await a;
  (await inFlight()).finish(new Error("disk full"));
  for (const p of failing) await expect(p).rejects.toThrow("disk full");
  const d = queue.mutate("d");
  (await inFlight()).finish();
  await d;
});
