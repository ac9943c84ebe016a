/** EngineTestDriver on one engine operator (the engine's own test harness, under weir/testing beside JobTestDriver). */
import { expect, test } from "vitest";
import { EngineTestDriver } from "../../../src/engine/testing/index.js";
import { WindowedAggregate, tumbling, windowedAggregateStores } from "../../../src/engine/index.js";

test("an engine operator under EngineTestDriver: its result, and nothing again after a restore", () => {
  const driver = new EngineTestDriver(
    (stores) =>
      new WindowedAggregate(
        {
          window: tumbling(60_000),
          aggregate: {
            init: () => ({ errors: 0, requests: 0 }),
            add: (acc, line: { status: number }) => ({ errors: acc.errors + (line.status >= 500 ? 1 : 0), requests: acc.requests + 1 }),
            result: (acc) => acc,
          },
        },
        windowedAggregateStores(stores),
      ),
  );
  driver.pipeInput("web-1", { status: 503 }, Date.UTC(2026, 0, 1, 12, 0, 10));
  driver.advanceWatermark(Date.UTC(2026, 0, 1, 12, 1, 0));
  expect(driver.readValues("results")).toEqual([
    { kind: "final", key: "web-1", windowStartMs: Date.UTC(2026, 0, 1, 12, 0), windowEndMs: Date.UTC(2026, 0, 1, 12, 1), result: { errors: 1, requests: 1 } },
  ]);
  const restarted = driver.restore();
  restarted.advanceWatermark(Date.UTC(2026, 0, 1, 12, 5));
  expect(restarted.readValues("results")).toEqual([]);
});
