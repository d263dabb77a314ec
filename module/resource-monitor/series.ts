import type { MetricsSample } from '../../protocol/live-events.ts';

/** One point of a chart: `v` is null where there is no data (a gap). */
export interface Point {
  t: number;
  v: number | null;
}

/** How values of several sessions combine into the total. */
export type Combine = 'sum' | 'mean';

/** How many points a chart has across its window, whatever the window. */
export const BUCKETS = 60;

/** A sample stands for its session until this much later when no newer one has come (samples come every few s). */
const CARRY_MS = 15_000;

/**
 * One session's values of a metric on the chart's time grid: `BUCKETS` equal buckets from `from` to `to`, each the
 * last sample at or before its end (carried for up to 15 s), null when there is none.
 */
export function bucketed(
  samples: readonly MetricsSample[],
  pick: (s: MetricsSample) => number | null,
  from: number,
  to: number,
): Point[] {
  const step = (to - from) / BUCKETS;
  const points: Point[] = [];
  let i = 0;
  let last: MetricsSample | undefined;
  for (let b = 1; b <= BUCKETS; b++) {
    const end = from + b * step;
    while (i < samples.length) {
      const sample = samples[i] as MetricsSample;
      if (Date.parse(sample.at) > end) break;
      last = sample;
      i++;
    }
    const fresh = last !== undefined && end - Date.parse(last.at) <= Math.max(CARRY_MS, step);
    points.push({ t: end, v: fresh && last ? pick(last) : null });
  }
  return points;
}

/** Several sessions' series on the same grid combined point by point (nulls skipped; all null → null). */
export function combine(series: readonly Point[][], how: Combine): Point[] {
  const first = series[0];
  if (!first) return [];
  return first.map((p, i) => {
    let sum = 0;
    let n = 0;
    for (const s of series) {
      const v = s[i]?.v;
      if (v === null || v === undefined) continue;
      sum += v;
      n++;
    }
    return { t: p.t, v: n === 0 ? null : how === 'sum' ? sum : sum / n };
  });
}

export interface Summary {
  now: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
}

/** The latest, smallest, largest and mean value of a series (nulls skipped). */
export function summarize(points: readonly Point[]): Summary {
  const values = points.map((p) => p.v).filter((v): v is number => v !== null);
  if (values.length === 0) return { now: null, min: null, max: null, mean: null };
  const last = [...points].reverse().find((p) => p.v !== null)?.v ?? null;
  return {
    now: last,
    min: Math.min(...values),
    max: Math.max(...values),
    mean: values.reduce((a, b) => a + b, 0) / values.length,
  };
}

/** A round upper bound for an axis: 1, 2, 2.5, 5 × 10^n at or above `value` (at least `floor`). */
export function niceMax(value: number, floor = 1): number {
  const v = Math.max(value, floor);
  const magnitude = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= v) return step * magnitude;
  return 10 * magnitude;
}
