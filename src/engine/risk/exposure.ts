/**
 * Gross and net exposure of one account, in total and by sector. Positions are already netted per
 * symbol (one position per account and symbol), so gross = Σ |exposure| over symbols and
 * net = Σ exposure. Exposure is the signed reporting-currency value of a position
 * (quantity × mark × multiplier × fx, see positions.ts).
 */
export type SectorExposure = {
  readonly sector: string;
  readonly gross: number;
  readonly net: number;
};

export type Exposure = {
  readonly gross: number;
  readonly net: number;
  /** One entry per sector with a valued position, sorted by sector. */
  readonly sectors: readonly SectorExposure[];
};

/** Sums valued positions in the given order; sectors come out sorted by name. */
export function exposureOf(positions: ReadonlyArray<{ readonly sector: string; readonly exposure: number }>): Exposure {
  let gross = 0;
  let net = 0;
  const bySector = new Map<string, { gross: number; net: number }>();
  for (const p of positions) {
    gross += Math.abs(p.exposure);
    net += p.exposure;
    const s = bySector.get(p.sector) ?? { gross: 0, net: 0 };
    s.gross += Math.abs(p.exposure);
    s.net += p.exposure;
    bySector.set(p.sector, s);
  }
  const sectors = [...bySector.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sector, s]) => ({ sector, gross: s.gross, net: s.net }));
  return { gross, net, sectors };
}
