/** One processor process per state directory: a second is refused, a dead owner's lock is taken over. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { lockStateDir } from "../../src/adapters/state/state-dir-lock.js";

const root = mkdtempSync(join(tmpdir(), "weir-lock-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("a directory held is refused until released", () => {
  const dir = join(root, "a");
  const lock = lockStateDir(dir);
  expect(() => lockStateDir(dir)).toThrow(/WEIR_STATE_DIR .* is in use/);
  lock.release();
  lockStateDir(dir).release();
});

test("a live process's lock is refused, naming it", () => {
  const dir = join(root, "b");
  lockStateDir(dir).release();
  writeFileSync(join(dir, ".lock"), String(process.ppid));
  expect(() => lockStateDir(dir)).toThrow(new RegExp(`in use by process ${process.ppid}`));
});

test("a dead process's lock, or one naming this process without its holding it, is taken over", () => {
  const dir = join(root, "c");
  lockStateDir(dir).release();
  const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
  writeFileSync(join(dir, ".lock"), gone);
  lockStateDir(dir).release();
  writeFileSync(join(dir, ".lock"), String(process.pid)); // a container restarted under the same pid
  lockStateDir(dir).release();
});
