// Settings of the k6 scripts from the environment (__ENV, k6's global), shared by ingest.js and
// subscribe.js. Plain JavaScript that k6 runs as is.

/** A positive integer (or, with zeroAllowed, a non-negative one) from the environment. */
export function intEnv(name, dflt, zeroAllowed) {
  const v = __ENV[name];
  if (v === undefined || v === "") return dflt;
  const n = parseInt(v, 10);
  if (!(n > 0 || (zeroAllowed && n === 0)) || String(n) !== v.trim())
    throw new Error(name + " must be a " + (zeroAllowed ? "non-negative" : "positive") + " integer, got " + v);
  return n;
}

/** A k6 duration string from the environment; a bare number means seconds. */
export function durationEnv(name, dflt) {
  const v = __ENV[name];
  if (v === undefined || v === "") return dflt;
  const d = /^\d+(\.\d+)?$/.test(v) ? v + "s" : v;
  parseDurationMs(d);
  return d;
}

/** "1h2m3s", "4s", "250ms" → milliseconds. */
export function parseDurationMs(s) {
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|s|m|h)/g;
  const units = { h: 3600000, m: 60000, s: 1000, ms: 1, us: 0.001, µs: 0.001 };
  let total = 0;
  let consumed = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    total += parseFloat(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== s.length) throw new Error("not a duration: " + s);
  return total;
}
