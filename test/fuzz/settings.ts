/**
 * How long the fuzz tests run (issue 15, item 8): a fixed seed and a modest number of cases per
 * property by default, so CI runs the very same cases every time; `npm run fuzz` runs them longer
 * (WEIR_FUZZ_RUNS=20000), and WEIR_FUZZ_SEED explores other cases or replays a failure that
 * fast-check reported (it prints the seed and the counterexample's path).
 */

/** Cases per property. */
export const FUZZ_RUNS = Number(process.env.WEIR_FUZZ_RUNS ?? 200);

/** The seed every property starts from. */
export const FUZZ_SEED = Number(process.env.WEIR_FUZZ_SEED ?? 20261206);

/** A test's timeout: `msPerCase` for each case (vitest's default of 5 s would cut `npm run fuzz` short), at least 30 s. */
export function fuzzTimeout(msPerCase: number): number {
  return Math.max(30_000, Math.ceil(FUZZ_RUNS * msPerCase));
}

/** Reports how many cases a property ran (the figure SECURITY.md quotes), once per test. */
export function reportCases(name: string, cases: number): void {
  console.log(`[fuzz] ${name}: ${cases} cases (seed ${FUZZ_SEED})`);
}
