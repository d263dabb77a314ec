/** Small, allocation-light robust statistics for the embedded N.E.X.U.S AI models. */

/** The q-quantile (0–1) of `values` by linear interpolation; NaN for an empty list. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return NaN;
  // A typed array sorts numerically and natively: several times faster than Array#sort with a comparator.
  const sorted = Float64Array.from(values).sort();
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? NaN;
  const b = sorted[hi] ?? NaN;
  return a + (b - a) * (pos - lo);
}

export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Median absolute deviation from the median. */
export function mad(values: readonly number[], center = median(values)): number {
  return median(values.map((v) => Math.abs(v - center)));
}

/**
 * Iglewicz & Hoaglin's modified z-score: 0.6745·(x − median)/MAD, which is ≈ (x − μ)/σ for normal data but
 * is not dragged by the outliers it is looking for. `minScale` floors the MAD so a flat series does not
 * turn every wiggle into an infinite score.
 */
export function robustZ(x: number, center: number, spread: number, minScale: number): number {
  return (0.6745 * (x - center)) / Math.max(spread, minScale);
}

/** Theil–Sen slope of y over x: the median of all pairwise slopes (robust to a few wild points). */
export function theilSen(xs: readonly number[], ys: readonly number[]): number {
  const slopes = new Float64Array((xs.length * (xs.length - 1)) / 2);
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) {
      const dx = (xs[j] ?? 0) - (xs[i] ?? 0);
      if (dx !== 0) slopes[n++] = ((ys[j] ?? 0) - (ys[i] ?? 0)) / dx;
    }
  }
  return n ? median(slopes.subarray(0, n)) : 0;
}

/** Share of ordered pairs (i < j) with y_j > y_i: 1 for a strictly rising series, ≈ 0.5 for noise. */
export function risingShare(ys: readonly number[]): number {
  let rising = 0;
  let pairs = 0;
  for (let i = 0; i < ys.length; i++) {
    for (let j = i + 1; j < ys.length; j++) {
      pairs++;
      if ((ys[j] ?? 0) > (ys[i] ?? 0)) rising++;
    }
  }
  return pairs ? rising / pairs : 0;
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** A seeded PRNG (mulberry32), for generated workloads that are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw from `random` (Box–Muller). */
export function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
