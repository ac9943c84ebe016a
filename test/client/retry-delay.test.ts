import { expect, test } from "vitest";
import { MAX_RETRY_DELAY_MS, retryDelayMs } from "../../src/client/backoff.js";

test("an event answered RETRY_AFTER again and again waits longer each time, up to a cap", () => {
  expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(250, n))).toEqual([250, 375, 562.5, 843.75, 1265.625]);
  expect(retryDelayMs(250, 50)).toBe(MAX_RETRY_DELAY_MS);
  // A gateway asking for more than the cap is obeyed.
  expect(retryDelayMs(10_000, 1)).toBe(10_000);
  expect(retryDelayMs(0, 1)).toBe(1000);
});
