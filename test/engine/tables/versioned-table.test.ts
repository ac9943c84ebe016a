import { describe, expect, it } from "vitest";
import { MemoryStore, type Emitter, type EngineRecord, type Operator, type StoreProvider } from "../../../src/engine/types.js";
import { EngineTestDriver } from "../../../src/engine/testing/index.js";
import { TableWatermark, VersionedTable, type VersionedEntry } from "../../../src/engine/tables/index.js";
import { createRng } from "../../../src/generators/rng.js";

function table(options: ConstructorParameters<typeof VersionedTable<string>>[1] = {}) {
  const store = new MemoryStore<VersionedEntry<string>>();
  return { t: new VersionedTable<string>(store, options), store };
}

describe("VersionedTable", () => {
  it("answers as of a time with the latest version valid then, whatever order versions arrive in", () => {
    const { t } = table();
    expect(t.put("k", "b", 200)).toBe("inserted");
    expect(t.put("k", "a", 100)).toBe("inserted");
    expect(t.put("k", "c", 300)).toBe("inserted");
    expect(t.asOf("k", 99)).toBeUndefined();
    expect(t.asOf("k", 100)).toBe("a");
    expect(t.asOf("k", 199.5)).toBe("a");
    expect(t.asOf("k", 200)).toBe("b");
    expect(t.asOf("k", 10_000)).toBe("c");
    expect(t.latest("k")).toBe("c");
    expect(t.versionAsOf("k", 250)).toEqual({ value: "b", validFromMs: 200, validToMs: 300 });
    expect(t.latestVersion("k")).toEqual({ value: "c", validFromMs: 300, validToMs: null });
    expect(t.asOf("other", 1000)).toBeUndefined();
    expect(t.latest("other")).toBeUndefined();
  });

  it("replaces a version put again at the same time", () => {
    const { t } = table();
    t.put("k", "a", 100);
    expect(t.put("k", "a2", 100)).toBe("replaced");
    expect(t.versions("k").map((v) => v.value)).toEqual(["a2"]);
  });

  it("drops versions older than watermark − history, except the newest one at or before that bound", () => {
    let watermark = Number.NEGATIVE_INFINITY;
    const { t } = table({ historyMs: 100, watermark: () => watermark });
    for (const ts of [100, 200, 300, 400, 500]) t.put("k", `v${ts}`, ts);
    watermark = 420; // bound 320: 300 is still valid there; 100 and 200 are not needed
    t.put("k", "v600", 600);
    expect(t.versions("k").map((v) => v.validFromMs)).toEqual([300, 400, 500, 600]);
    expect(t.dropped("k")).toBe(2);
    // Exact from the oldest version kept on; unknown before it.
    expect(t.asOf("k", 320)).toBe("v300");
    expect(t.asOf("k", 250)).toBeUndefined();
  });

  it("refuses a version older than its history (it would sit before a gap), keeps one that becomes the newest at the bound", () => {
    let watermark = Number.NEGATIVE_INFINITY;
    const { t } = table({ historyMs: 0, watermark: () => watermark });
    t.put("k", "v100", 100);
    t.put("k", "v300", 300);
    watermark = 250;
    // 200 is before the bound but newer than 100: it is the answer at 250, kept (and 100 goes).
    expect(t.put("k", "v200", 200)).toBe("inserted");
    expect(t.versions("k").map((v) => v.validFromMs)).toEqual([200, 300]);
    // 150 would be dropped at once, 50 is before the oldest kept after a drop: both refused, nothing changes.
    expect(t.put("k", "v150", 150)).toBe("refused");
    expect(t.put("k", "v50", 50)).toBe("refused");
    expect(t.versions("k").map((v) => v.validFromMs)).toEqual([200, 300]);
    // Without drops, an older version is simply the new oldest.
    const fresh = table({ historyMs: 0, watermark: () => Number.NEGATIVE_INFINITY }).t;
    fresh.put("k", "b", 200);
    expect(fresh.put("k", "a", 100)).toBe("inserted");
  });

  it("keeps at most maxVersions per key, dropping the oldest", () => {
    const { t } = table({ maxVersions: 3 });
    for (let i = 1; i <= 5; i++) t.put("k", `v${i}`, i * 10);
    expect(t.versions("k").map((v) => v.value)).toEqual(["v3", "v4", "v5"]);
    expect(t.dropped("k")).toBe(2);
    expect(t.asOf("k", 25)).toBeUndefined();
    expect(t.put("k", "old", 5)).toBe("refused");
  });

  it("expires a key on demand when the watermark moved without new puts", () => {
    let watermark = 0;
    const { t, store } = table({ historyMs: 10, watermark: () => watermark });
    for (const ts of [1, 2, 3]) t.put("k", `v${ts}`, ts);
    watermark = 100;
    t.expire("k");
    expect(t.versions("k").map((v) => v.value)).toEqual(["v3"]);
    expect(JSON.parse(JSON.stringify(store.get("k")))).toEqual(store.get("k")); // plain JSON
  });

  it("keeps versions in segments: lookups, ranges and expiry across segment boundaries", () => {
    let watermark = Number.NEGATIVE_INFINITY;
    const { t, store } = table({ segmentMs: 100, historyMs: 0, watermark: () => watermark });
    for (const ts of [50, 120, 130, 450, 460, 700]) t.put("k", `v${ts}`, ts);
    expect(store.get("k")).toMatchObject({ segments: [0, 1, 4, 7], sizes: [1, 2, 2, 1], count: 6 });
    // Nothing in segment 3 or 2: the answer at 399 is the last version of segment 1.
    expect(t.versionAsOf("k", 399)).toEqual({ value: "v130", validFromMs: 130, validToMs: 450 });
    expect(t.versionAsOf("k", 99)).toEqual({ value: "v50", validFromMs: 50, validToMs: 120 });
    expect(t.range("k", 100, 455).map((v) => [v.value, v.validToMs])).toEqual([
      ["v120", 130],
      ["v130", 450],
      ["v450", 460],
    ]);
    expect(t.range("k", 461, 10_000).map((v) => [v.value, v.validToMs])).toEqual([["v700", null]]);
    // Watermark 455: v450 is the answer there, so v50, v120 and v130 go; segments 0 and 1 are deleted.
    watermark = 455;
    t.put("k", "v800", 800);
    expect(t.versions("k").map((v) => v.validFromMs)).toEqual([450, 460, 700, 800]);
    expect(store.get("k\u00000")).toBeUndefined();
    expect(store.get("k\u00001")).toBeUndefined();
    expect(store.get("k")).toMatchObject({ segments: [4, 7, 8], count: 4, dropped: 3, firstMs: 450 });
    // Watermark 465: v450 goes too, but stays stored in segment 4 (hidden) while v460 is kept.
    watermark = 465;
    t.expire("k");
    expect(t.versions("k").map((v) => v.validFromMs)).toEqual([460, 700, 800]);
    expect(store.get("k\u00004")).toEqual({ validFrom: [450, 460], values: ["v450", "v460"] });
    expect(t.asOf("k", 455)).toBeUndefined();
    expect(t.range("k", 0, 465).map((v) => v.value)).toEqual(["v460"]);
    expect(t.put("k", "v455", 455)).toBe("refused");
  });

  it("agrees with a plain sorted list under random out-of-order puts, moving watermarks and a cap", () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const rng = createRng(seed);
      let watermark = Number.NEGATIVE_INFINITY;
      const historyMs = rng.int(0, 300);
      const maxVersions = rng.int(2, 12);
      const { t } = table({ segmentMs: rng.int(20, 200), historyMs, maxVersions, watermark: () => watermark });
      // The model: every version kept, sorted; dropped > 0 once anything went.
      let model: Array<[number, string]> = [];
      let dropped = 0;
      for (let step = 0; step < 400; step++) {
        if (rng.chance(0.1)) watermark = Math.max(watermark, step * 10 - rng.int(0, 400));
        const ts = step * 10 + rng.int(-300, 300);
        const value = `v${step}`;
        const bound = watermark - historyMs;
        const atBound = model.filter(([v]) => v <= bound).at(-1);
        const refused =
          (model.length > 0 && ts < model[0]![0] && (dropped > 0 || model.length >= maxVersions)) || (ts < bound && atBound !== undefined && atBound[0] > ts);
        const got = t.put("k", value, ts);
        if (refused) {
          expect(got, `seed ${seed} step ${step}`).toBe("refused");
        } else {
          const same = model.findIndex(([v]) => v === ts);
          expect(got).toBe(same >= 0 ? "replaced" : "inserted");
          if (same >= 0) model[same] = [ts, value];
          else model = [...model, [ts, value] as [number, string]].sort((a, b) => a[0] - b[0]);
          const keepFrom = Math.max(
            0,
            model.length - maxVersions,
            model.findLastIndex(([v]) => v <= bound),
          );
          dropped += keepFrom;
          model = model.slice(keepFrom);
        }
        expect(
          t.versions("k").map((v) => [v.validFromMs, v.value]),
          `seed ${seed} step ${step}`,
        ).toEqual(model);
        expect(t.dropped("k")).toBe(dropped);
        const probe = step * 10 + rng.int(-400, 100);
        expect(t.asOf("k", probe)).toBe(probe < (model[0]?.[0] ?? Number.POSITIVE_INFINITY) ? undefined : model.filter(([v]) => v <= probe).at(-1)![1]);
      }
    }
  });

  it("validates its options and times", () => {
    expect(() => table({ maxVersions: 0 })).toThrow(RangeError);
    expect(() => table({ historyMs: -1 })).toThrow(RangeError);
    expect(() => table().t.put("k", "x", Number.NaN)).toThrow(RangeError);
  });
});

// An operator over a VersionedTable and its watermark: records put versions (value valid from the
// record's time), a watermark advance emits the table's answers at a few times for every key.
type Put = { readonly key: string; readonly value: string };
class TableOperator implements Operator<Put, { key: string; at: number; value: string | null }> {
  private readonly wm: TableWatermark;
  private readonly table: VersionedTable<string>;
  constructor(stores: StoreProvider) {
    this.wm = new TableWatermark(stores.store("progress"), "marks", { maxOutOfOrdernessMs: 50 });
    this.table = new VersionedTable(stores.store("versions"), { historyMs: 100, maxVersions: 5, watermark: () => this.wm.watermarkMs });
  }
  process(r: EngineRecord<Put>): void {
    this.wm.observe("p0", r.timestampMs);
    this.table.put(r.value.key, r.value.value, r.timestampMs);
  }
  advanceWatermark(watermarkMs: number, out: Emitter<{ key: string; at: number; value: string | null }>): void {
    this.wm.advanceTo(watermarkMs);
    for (const key of ["a", "b"]) {
      for (const at of [0, 150, 400, 900]) out.emit("answers", key, { key, at, value: this.table.asOf(key, at) ?? null }, watermarkMs);
    }
  }
}

describe("VersionedTable in an operator", () => {
  const inputs: Array<[string, string, number]> = [
    ["a", "a1", 100],
    ["b", "b1", 120],
    ["a", "a3", 300],
    ["a", "a2", 200], // out of order
    ["b", "b2", 500],
    ["a", "a4", 600],
    ["a", "a5", 700],
    ["a", "a6", 800],
    ["b", "b3", 850],
  ];

  it("restores from its changelog and answers and expires exactly as without the restart", () => {
    const build = () => new EngineTestDriver((stores) => new TableOperator(stores));
    const straight = build();
    for (const [key, value, ts] of inputs) straight.pipeInput(key, { key, value }, ts);
    straight.advanceWatermark(950);

    for (let split = 0; split <= inputs.length; split++) {
      const first = build();
      for (const [key, value, ts] of inputs.slice(0, split)) first.pipeInput(key, { key, value }, ts);
      const second = first.restore();
      expect(second.snapshot()).toEqual(first.snapshot());
      for (const [key, value, ts] of inputs.slice(split)) second.pipeInput(key, { key, value }, ts);
      second.advanceWatermark(950);
      expect(second.readValues("answers")).toEqual(straight.readAll("answers").map((r) => r.value));
    }
    // What it answers: when a6 (800) was put, the watermark was 800 − 50 = 750, the bound 650, so a
    // kept a4 (the newest at or before 650), a5 and a6; b was written last at 850 (bound 700): b2, b3.
    expect(
      straight
        .readAll("answers")
        .map((r) => r.value)
        .filter((v) => v.key === "a"),
    ).toEqual([
      { key: "a", at: 0, value: null },
      { key: "a", at: 150, value: null },
      { key: "a", at: 400, value: null },
      { key: "a", at: 900, value: "a6" },
    ]);
    // Stored as one entry per key and one per (key, 1000 ms segment), plain JSON. Dropped versions
    // stay in their segment, hidden by firstMs, until the whole segment goes.
    expect(straight.snapshot().versions).toEqual([
      ["a", { segments: [0], sizes: [6], count: 3, dropped: 3, firstMs: 600, nextMs: 700 }],
      ["a\u00000", { validFrom: [100, 200, 300, 600, 700, 800], values: ["a1", "a2", "a3", "a4", "a5", "a6"] }],
      ["b", { segments: [0], sizes: [3], count: 2, dropped: 1, firstMs: 500, nextMs: 850 }],
      ["b\u00000", { validFrom: [120, 500, 850], values: ["b1", "b2", "b3"] }],
    ]);
  });
});
