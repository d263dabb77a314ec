import type { Anomaly, AnomalyMetric, AnomalyReport } from '../../protocol/ai.ts';
import type { MetricsSample } from '../../protocol/live-events.ts';
import { mad, median, risingShare, robustZ, theilSen } from './robust-stats.ts';

/**
 * A sample as the detector reads it: a full MetricsSample, or only some of its metrics (the stream gateway
 * measures the stream but not the desktop); a metric a sample lacks is not scored at that time.
 */
export type DetectableSample = Pick<MetricsSample, 'at'> & Partial<Pick<MetricsSample, AnomalyMetric>>;

export interface AnomalyDetectorOptions {
  /** Trailing samples that form each point's baseline (median and MAD). */
  window: number;
  /** Samples needed before anything is scored. */
  warmup: number;
  /** |robust z| from which a sample is anomalous. 3.5 is Iglewicz & Hoaglin's recommendation. */
  threshold: number;
  /** An episode needs this many samples, unless one of them reaches `strongThreshold`. */
  minPoints: number;
  strongThreshold: number;
  /** Flagged samples this close (in samples) belong to one episode. */
  maxGap: number;
  /** Memory leak: over the last `trendWindow` samples, at least `trendRisingShare` of pairs rise… */
  trendWindow: number;
  trendRisingShare: number;
  /** …and the Theil–Sen trend over the window adds at least this share of the window's starting level. */
  trendMinRise: number;
}

export const DEFAULT_ANOMALY_OPTIONS: AnomalyDetectorOptions = {
  window: 60,
  warmup: 20,
  threshold: 3.5,
  minPoints: 2,
  strongThreshold: 8,
  maxGap: 1,
  trendWindow: 30,
  trendRisingShare: 0.85,
  trendMinRise: 0.05,
};

interface MetricRule {
  /** Which side is a problem: CPU, memory and latency going up; frame rate going down. */
  direction: 'high' | 'low';
  /** Floor of the MAD, from the baseline median: below this, variation is not meaningful. */
  minScale(center: number): number;
  value(sample: DetectableSample): number | null | undefined;
  /** Whether this baseline is worth scoring at all (frame rate only while someone watches). */
  applies?(center: number): boolean;
  trend?: true;
}

export const METRIC_RULES: Record<AnomalyMetric, MetricRule> = {
  cpuPercent: { direction: 'high', minScale: (c) => Math.max(3, 0.05 * c), value: (s) => s.cpuPercent },
  memoryMiB: {
    direction: 'high',
    minScale: (c) => Math.max(8, 0.01 * c),
    value: (s) => s.memoryMiB,
    trend: true,
  },
  streamFps: {
    direction: 'low',
    minScale: (c) => Math.max(0.5, 0.05 * c),
    value: (s) => s.streamFps,
    applies: (c) => c >= 1,
  },
  streamLatencyMs: {
    direction: 'high',
    minScale: (c) => Math.max(2, 0.05 * c),
    value: (s) => s.streamLatencyMs,
  },
};

interface Flag {
  index: number;
  score: number;
  value: number;
  baseline: number;
}

/**
 * The embedded `detectAnomalies`: for each metric, every sample is scored against the median and MAD of the
 * samples before it (a trailing window, so a lasting change is flagged while it is new and then becomes the
 * new normal); flagged samples close together form one episode, which must last `minPoints` samples unless
 * it is extreme. Memory additionally gets a trend test (a leak rises steadily without any single sample
 * standing out).
 */
export function detectAnomalies(
  samples: readonly DetectableSample[],
  options: AnomalyDetectorOptions = DEFAULT_ANOMALY_OPTIONS,
): AnomalyReport {
  const anomalies: Anomaly[] = [];
  for (const [metric, rule] of Object.entries(METRIC_RULES) as Array<[AnomalyMetric, MetricRule]>) {
    const points: Array<{ at: string; t: number; v: number }> = [];
    for (const s of samples) {
      const v = rule.value(s);
      if (v !== null && v !== undefined && Number.isFinite(v))
        points.push({ at: s.at, t: Date.parse(s.at), v });
    }
    const values = points.map((p) => p.v);
    const flags: Flag[] = [];
    const trendFlags: Flag[] = [];
    for (let i = options.warmup; i < points.length; i++) {
      const base = values.slice(Math.max(0, i - options.window), i);
      const center = median(base);
      if (rule.applies && !rule.applies(center)) continue;
      const v = values[i] ?? 0;
      const z = robustZ(v, center, mad(base, center), rule.minScale(center));
      if (
        (rule.direction === 'high' && z > options.threshold) ||
        (rule.direction === 'low' && z < -options.threshold)
      ) {
        flags.push({ index: i, score: Math.abs(z), value: v, baseline: center });
      }
      if (rule.trend && i + 1 >= options.trendWindow) {
        const from = i + 1 - options.trendWindow;
        const ys = values.slice(from, i + 1);
        // The cheap test first: most windows are not rising at all.
        const rising = risingShare(ys) >= options.trendRisingShare;
        const xs = rising ? points.slice(from, i + 1).map((p) => (p.t - (points[from]?.t ?? 0)) / 1000) : [];
        const start = rising ? median(ys.slice(0, Math.max(3, Math.floor(ys.length / 5)))) : 0;
        const rise = rising ? theilSen(xs, ys) * ((xs.at(-1) ?? 0) - (xs[0] ?? 0)) : 0;
        if (rising && rise >= Math.max(options.trendMinRise * start, 6 * rule.minScale(start))) {
          trendFlags.push({
            index: i,
            score: rise / Math.max(rule.minScale(start), 1e-9),
            value: v,
            baseline: start,
          });
        }
      }
    }
    const kind = rule.direction;
    for (const episode of episodes(flags, options)) anomalies.push(toAnomaly(metric, kind, episode, points));
    for (const episode of episodes(trendFlags, { ...options, strongThreshold: Infinity })) {
      anomalies.push(toAnomaly(metric, 'trend', episode, points));
    }
  }
  anomalies.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.metric.localeCompare(b.metric));
  return { detected: anomalies.length > 0, anomalies, samples: samples.length };
}

function episodes(flags: readonly Flag[], options: AnomalyDetectorOptions): Flag[][] {
  const out: Flag[][] = [];
  let current: Flag[] = [];
  for (const f of flags) {
    const last = current.at(-1);
    if (last && f.index - last.index > options.maxGap + 1) {
      out.push(current);
      current = [];
    }
    current.push(f);
  }
  if (current.length) out.push(current);
  return out.filter(
    (e) => e.length >= options.minPoints || e.some((f) => f.score >= options.strongThreshold),
  );
}

function toAnomaly(
  metric: AnomalyMetric,
  kind: Anomaly['kind'],
  episode: readonly Flag[],
  points: ReadonlyArray<{ at: string }>,
): Anomaly {
  const peak = episode.reduce((a, b) => (b.score > a.score ? b : a));
  const first = episode[0] ?? peak;
  const last = episode.at(-1) ?? peak;
  return {
    metric,
    kind,
    startedAt: points[first.index]?.at ?? '',
    endedAt: points[last.index]?.at ?? '',
    points: last.index - first.index + 1,
    peakScore: Math.round(peak.score * 100) / 100,
    value: peak.value,
    baseline: Math.round(peak.baseline * 10) / 10,
  };
}
