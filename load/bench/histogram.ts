/** Latency samples and their percentiles. Samples are kept exactly (bench runs are short). */
export class Samples {
  private values: number[] = [];

  add(value: number, times = 1): void {
    for (let i = 0; i < times; i++) this.values.push(value);
  }

  merge(values: readonly number[]): void {
    for (const v of values) this.values.push(v);
  }

  get count(): number {
    return this.values.length;
  }

  all(): readonly number[] {
    return this.values;
  }

  /** p in [0, 100]; NaN when empty. */
  percentile(p: number): number {
    if (this.values.length === 0) return Number.NaN;
    const sorted = Float64Array.from(this.values).sort();
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i]!;
  }
}

export const round = (v: number, digits = 2) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
