/** The mm2.properties `weir stack up --regions N` writes: what MirrorMaker 2 copies between regions, and what not. */
import { expect, test } from "vitest";
import { mm2Properties } from "../../src/stack/mirror-maker.js";

const props = (text: string) =>
  new Map(
    text
      .split("\n")
      .filter((l) => l.includes(" = "))
      .map((l) => [l.slice(0, l.indexOf(" = ")), l.slice(l.indexOf(" = ") + 3)] as const),
  );

test("every pair of regions mirrors both ways, with offset sync, and only Weir's public topics", () => {
  const p = props(
    mm2Properties([
      { name: "a", brokers: "127.0.0.1:1" },
      { name: "b", brokers: "127.0.0.1:2" },
      { name: "c", brokers: "127.0.0.1:3" },
    ]),
  );
  expect(p.get("clusters")).toBe("a, b, c");
  expect(p.get("b.bootstrap.servers")).toBe("127.0.0.1:2");
  for (const [from, to] of [
    ["a", "b"],
    ["b", "a"],
    ["a", "c"],
    ["c", "a"],
    ["b", "c"],
    ["c", "b"],
  ])
    expect(p.get(`${from}->${to}.enabled`)).toBe("true");
  expect(p.get("sync.group.offsets.enabled")).toBe("true");
  // Transactional results and alerts: only committed records cross.
  expect(p.get("a.consumer.isolation.level")).toBe("read_committed");

  const included = new RegExp(`^(${p.get("a->b.topics")})$`);
  const excluded = p
    .get("a->b.topics.exclude")!
    .split(", ")
    .map((re) => new RegExp(`^(${re})$`));
  const mirrored = (topic: string) => included.test(topic) && !excluded.some((re) => re.test(topic));
  for (const topic of ["weir.events.v1.Trade", "weir.reference.fx-rate", "weir.results.risk-limits", "weir.alerts", "weir.dead-letter"])
    expect(mirrored(topic), topic).toBe(true);
  // A region's own: job state and re-keyed input, MirrorMaker's internals, and other regions' mirrors (no loops).
  for (const topic of [
    "weir-processor-risk-limits.changelog",
    "weir.x.repartition",
    "mm2-offsets.a.internal",
    "__consumer_offsets",
    "b.weir.events.v1.Trade",
    "heartbeats",
  ])
    expect(mirrored(topic), topic).toBe(false);
});
