/** The README's engine example, kept true. */
import { expect, test } from "vitest";
import { EngineTestDriver } from "../../src/engine/testing/index.js";
import { errorRateJob, windowedAggregateStores } from "../../src/engine/index.js";

test("the README's EngineTestDriver example produces the result it shows", () => {
  const driver = new EngineTestDriver((stores) => errorRateJob(windowedAggregateStores(stores)));
  driver.pipeInput("web-1", { host: "web-1", status: 503 }, Date.UTC(2026, 0, 1, 12, 0, 10));
  driver.advanceWatermark(Date.UTC(2026, 0, 1, 12, 1, 0));
  expect(driver.readValues("results")).toEqual([
    { kind: "final", key: "web-1", windowStartMs: Date.UTC(2026, 0, 1, 12, 0), windowEndMs: Date.UTC(2026, 0, 1, 12, 1), result: { errors: 1, requests: 1 } },
  ]);
  const restarted = driver.restore();
  restarted.advanceWatermark(Date.UTC(2026, 0, 1, 12, 5));
  expect(restarted.readValues("results")).toEqual([]);
});
