/**
 * A task's state on disk (LmdbTaskState) behaves as the in-memory one under any sequence of
 * writes, deletes, steps and flushes (fast-check model test), keeps only committed steps across a
 * reopen, and orders keys as LMDB does (code points).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, expect, test } from "vitest";
import { byCodePoint, LmdbTaskState } from "../../src/adapters/state/lmdb-task-state.js";
import { MemoryTaskState } from "../../src/processor/task-state.js";

const root = mkdtempSync(join(tmpdir(), "weir-lmdb-"));
let dirs = 0;
const freshDir = () => join(root, String(dirs++));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const key = fc.oneof(fc.constantFrom("", "a", "a\u0000b", "ab", "é", "\uE000", "😀", "z"), fc.string({ maxLength: 4, unit: "binary" }));
const op = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), store: fc.constantFrom("s", "t"), key, value: fc.integer() }),
  fc.record({ kind: fc.constant("delete" as const), store: fc.constantFrom("s", "t"), key }),
  fc.record({ kind: fc.constant("step" as const) }),
  fc.record({ kind: fc.constant("flush" as const) }),
);

test("the disk state reads, iterates and reports changes as the memory state does", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const disk = LmdbTaskState.open(freshDir());
      const memory = new MemoryTaskState();
      let flushes = 0;
      try {
        for (const o of ops) {
          if (o.kind === "put") {
            disk.store(o.store).put(o.key, { v: o.value });
            memory.store(o.store).put(o.key, { v: o.value });
          } else if (o.kind === "delete") {
            disk.store(o.store).delete(o.key);
            memory.store(o.store).delete(o.key);
          } else if (o.kind === "step") {
            const byKey = (c: readonly [string, string, unknown]) => `${c[0]}\u0000${c[1]}`;
            expect(new Map(disk.takeChanges().map((c) => [byKey(c), c[2]]))).toEqual(new Map(memory.takeChanges().map((c) => [byKey(c), c[2]])));
          } else disk.flush(++flushes);
          for (const s of ["s", "t"]) {
            const expected = [...memory.store(s).entries()].sort(([a], [b]) => byCodePoint(a, b));
            expect([...disk.store(s).entries()]).toEqual(expected);
            for (const [k, v] of expected) expect(disk.store(s).get(k)).toEqual(v);
          }
        }
      } finally {
        await disk.close();
      }
    }),
    { numRuns: 60 },
  );
});

test("only flushed steps survive a reopen, with their checkpoint", async () => {
  const dir = freshDir();
  const first = LmdbTaskState.open(dir);
  expect(first.checkpoint()).toBeUndefined();
  first.store("w").put("a", 1);
  first.store("w").put("b", 2);
  first.takeChanges();
  first.flush(10);
  first.store("w").put("a", 3); // a step whose transaction never committed
  first.store("w").delete("b");
  first.takeChanges();
  await first.close();

  const again = LmdbTaskState.open(dir);
  expect(again.checkpoint()?.changelogOffset).toBe(10);
  expect([...again.store("w").entries()]).toEqual([
    ["a", 1],
    ["b", 2],
  ]);
  expect(again.takeChanges()).toEqual([]);
  again.applyCommitted(
    [
      ["w", "a", 5],
      ["w", "b", null],
      ["x", "c", { n: 1 }],
    ],
    14,
  );
  expect(again.checkpoint()?.changelogOffset).toBe(14);
  expect(again.size()).toBe(2);
  again.clear();
  expect(again.size()).toBe(0);
  expect(again.checkpoint()).toBeUndefined();
  await again.close();
});

test("code point order is LMDB's: astral characters after the whole BMP", () => {
  expect(["😀", "\uE000", "z", "é", "", "a\u0000b", "ab"].sort(byCodePoint)).toEqual(["", "a\u0000b", "ab", "z", "é", "\uE000", "😀"]);
});
