import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/engine/types.js";
import { invalidFx, invalidInstrument, ReferenceTable, type ReferenceEntry } from "../../../src/engine/risk/reference-table.js";

function table(options?: ConstructorParameters<typeof ReferenceTable>[1]) {
  const store = new MemoryStore<ReferenceEntry>();
  return { store, ref: new ReferenceTable(store, options) };
}

describe("ReferenceTable", () => {
  it("keeps the latest instrument per symbol, like a compacted topic", () => {
    const { ref } = table();
    ref.upsertInstrument({ symbol: "AAPL", sector: "TECH", currency: "USD", contractMultiplier: 1 }, 1);
    ref.upsertInstrument({ symbol: "AAPL", sector: "HARDWARE", currency: "USD", contractMultiplier: 1 }, 2);
    expect(ref.instrument("AAPL")).toEqual({ symbol: "AAPL", sector: "HARDWARE", currency: "USD", contractMultiplier: 1 });
    expect(ref.instrument("MSFT")).toBeUndefined();
    ref.removeInstrument("AAPL");
    expect(ref.instrument("AAPL")).toBeUndefined();
  });

  it("converts with direct and inverse rates, latest rate wins", () => {
    const { ref } = table();
    ref.upsertFx({ base: "EUR", quote: "USD", rate: 1.25 }, 1);
    ref.upsertFx({ base: "USD", quote: "JPY", rate: 160 }, 1);
    expect(ref.convert(100, "EUR")).toEqual({ ok: true, value: 125, rate: 1.25, path: "direct" });
    expect(ref.convert(16_000, "JPY")).toEqual({ ok: true, value: 100, rate: 1 / 160, path: "inverse" });
    expect(ref.convert(80, "USD", "EUR")).toEqual({ ok: true, value: 64, rate: 0.8, path: "inverse" });
    expect(ref.convert(7, "USD")).toEqual({ ok: true, value: 7, rate: 1, path: "identity" });
    ref.upsertFx({ base: "EUR", quote: "USD", rate: 1.5 }, 2);
    expect(ref.convert(100, "EUR")).toMatchObject({ ok: true, value: 150 });
  });

  it("crosses through the pivot currency when no direct or inverse rate exists", () => {
    const { ref } = table({ reportingCurrency: "EUR" });
    ref.upsertFx({ base: "EUR", quote: "USD", rate: 1.25 }, 1);
    ref.upsertFx({ base: "USD", quote: "JPY", rate: 160 }, 1);
    const r = ref.convert(20_000, "JPY");
    expect(r.ok && r.path).toBe("cross");
    expect(r.ok && r.value).toBeCloseTo(20_000 / 160 / 1.25, 12);
  });

  it("reports an unknown currency explicitly instead of converting to zero", () => {
    const { ref } = table();
    ref.upsertFx({ base: "EUR", quote: "USD", rate: 1.25 }, 1);
    expect(ref.convert(100, "GBP")).toEqual({ ok: false, reason: "unknown-fx", from: "GBP", to: "USD" });
    ref.removeFx("EUR", "USD");
    expect(ref.rate("EUR", "USD")).toEqual({ ok: false, reason: "unknown-fx", from: "EUR", to: "USD" });
  });

  it("refuses invalid reference data and stores plain JSON", () => {
    const { ref, store } = table();
    expect(invalidFx({ base: "EUR", quote: "EUR", rate: 1 })).toMatch(/differ/);
    expect(invalidFx({ base: "EUR", quote: "USD", rate: 0 })).toMatch(/> 0/);
    expect(invalidInstrument({ symbol: "X", sector: "S", currency: "USD", contractMultiplier: Number.NaN })).toMatch(/contractMultiplier/);
    expect(() => ref.upsertFx({ base: "EUR", quote: "USD", rate: -1 }, 1)).toThrow(RangeError);
    ref.upsertInstrument({ symbol: "ES", sector: "INDEX", currency: "USD", contractMultiplier: 50 }, 3);
    const entries = [...store.entries()];
    expect(JSON.parse(JSON.stringify(entries))).toEqual(entries);
  });
});
