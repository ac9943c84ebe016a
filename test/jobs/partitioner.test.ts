import { describe, expect, it } from "vitest";
import { murmur2, partitionOf } from "../../src/jobs/partitioner.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("Kafka's default partitioner", () => {
  // Vectors from Apache Kafka's UtilsTest.testMurmur2.
  it.each([
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ])("murmur2(%j) = %i, as in the Java client", (key, hash) => {
    expect(murmur2(bytes(key))).toBe(hash);
  });

  it("maps keys to partitions in range, the same key always to the same partition", () => {
    for (let i = 0; i < 1000; i++) {
      const p = partitionOf(`key-${i}`, 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
      expect(partitionOf(`key-${i}`, 7)).toBe(p);
    }
  });
});
