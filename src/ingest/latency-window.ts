/** The last N latencies (ms), for live percentiles on the dashboard; fixed memory. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private count = 0;

  constructor(size = 2048) {
    this.samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.samples[this.count++ % this.samples.length] = ms;
  }

  /** Percentiles (0..1) of the samples kept; zeros when there are none. */
  percentiles(...ps: number[]): number[] {
    const n = Math.min(this.count, this.samples.length);
    if (n === 0) return ps.map(() => 0);
    const sorted = this.samples.slice(0, n).sort();
    return ps.map((p) => sorted[Math.min(n - 1, Math.floor(p * n))]!);
  }
}
