/**
 * A small parser of the Prometheus text exposition format (version 0.0.4), for tests: samples by
 * name and labels. Checks the format as it goes (a line that is neither a comment nor a sample
 * fails the test), so a broken exposition does not pass unnoticed.
 */
export type Sample = { readonly name: string; readonly labels: Readonly<Record<string, string>>; readonly value: number };
export type Samples = readonly Sample[];

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

export function parsePrometheusText(text: string): Samples {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) {
      if (line.startsWith("# TYPE") && !/^# TYPE \S+ (counter|gauge|histogram|summary|untyped)$/.test(line)) throw new Error(`bad TYPE line: ${line}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      LABEL.lastIndex = 0;
      let l: RegExpExecArray | null;
      while (LABEL.lastIndex < m[3].length && (l = LABEL.exec(m[3])) !== null)
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      if (LABEL.lastIndex !== m[3].length) throw new Error(`bad labels in: ${line}`);
    }
    // Prometheus parses values with Go's ParseFloat: NaN and Inf in any letter case.
    const raw = m[4]!.toLowerCase();
    const value = raw === "+inf" || raw === "inf" ? Infinity : raw === "-inf" ? -Infinity : Number(m[4]);
    if (Number.isNaN(value) && raw !== "nan") throw new Error(`bad value in: ${line}`);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** The value of the sample with exactly these labels (0 when absent: counters start unseen). */
export function sampleValue(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels);
  const hit = samples.find((s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v));
  return hit?.value ?? 0;
}
