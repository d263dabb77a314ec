import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectAnomalies } from '../../../backend-adapter/ai/anomaly-detector.ts';
import { generateWorkload, scoreDetections } from '../../../backend-adapter/ai/evaluation.ts';
import {
  mad,
  median,
  quantile,
  risingShare,
  robustZ,
  theilSen,
} from '../../../backend-adapter/ai/robust-stats.ts';
import type { MetricsSample } from '../../../protocol/live-events.ts';

function series(values: Partial<Omit<MetricsSample, 'sessionId' | 'at'>>[]): MetricsSample[] {
  const t0 = Date.parse('2026-03-02T09:00:00.000Z');
  return values.map((v, i) => ({
    sessionId: 's',
    at: new Date(t0 + i * 2000).toISOString(),
    cpuPercent: 20,
    memoryMiB: 1000,
    gpuPercent: null,
    networkTxBytesPerSec: 0,
    networkRxBytesPerSec: 0,
    streamFps: 0,
    streamLatencyMs: null,
    ...v,
  }));
}

describe('robust statistics', () => {
  it('median, MAD, quantiles, Theil–Sen and the rising share', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([1, 2, 3, 4]), 2.5);
    assert.equal(mad([1, 1, 2, 2, 4, 6, 9]), 1);
    assert.equal(quantile([0, 10], 0.9), 9);
    assert.ok(Number.isNaN(median([])));
    // One wild point does not move the median or MAD, so it stands out.
    const base = [10, 11, 9, 10, 12, 10, 9, 11, 10, 1000];
    assert.ok(robustZ(1000, median(base), mad(base), 0.1) > 100);
    assert.equal(robustZ(12, 10, 0, 2), (0.6745 * 2) / 2, 'the floor replaces a zero MAD');
    assert.equal(theilSen([0, 1, 2, 3, 4], [0, 2, 4, 6, 100]), 2, 'robust to the outlier');
    assert.equal(risingShare([1, 2, 3, 4]), 1);
    assert.equal(risingShare([4, 3, 2, 1]), 0);
  });
});

describe('N.E.X.U.S AI anomaly detection (robust z-score / MAD)', () => {
  it('stays quiet on a steady desktop and on a flat one', () => {
    assert.equal(detectAnomalies(series(Array.from({ length: 200 }, () => ({})))).detected, false);
    const noisy = series(
      Array.from({ length: 200 }, (_, i) => ({ cpuPercent: 20 + (i % 5), memoryMiB: 1000 + (i % 3) })),
    );
    assert.deepEqual(detectAnomalies(noisy).anomalies, []);
  });

  it('reports a CPU spike as one episode with its baseline, and ignores a single moderate blip', () => {
    const values = Array.from({ length: 120 }, (_, i) => ({ cpuPercent: 20 + (i % 3) }));
    for (let i = 80; i < 86; i++) values[i] = { cpuPercent: 140 };
    values[50] = { cpuPercent: 40 }; // one sample, z ≈ 4.5 but alone: noise
    const report = detectAnomalies(series(values));
    assert.equal(report.anomalies.length, 1);
    const [a] = report.anomalies;
    assert.deepEqual(
      [a?.metric, a?.kind, a?.points, a?.value, a?.baseline],
      ['cpuPercent', 'high', 6, 140, 21],
    );
    assert.equal(a?.startedAt, series(values)[80]?.at);
  });

  it('flags a frame-rate drop only while someone watches, and high latency', () => {
    const watched = Array.from({ length: 100 }, (_, i) => ({
      streamFps: 25 + (i % 2),
      streamLatencyMs: 20 + (i % 3),
    }));
    for (let i = 70; i < 78; i++) watched[i] = { streamFps: 3, streamLatencyMs: 180 };
    const metrics = detectAnomalies(series(watched)).anomalies.map((a) => `${a.metric}:${a.kind}`);
    assert.deepEqual(metrics.sort(), ['streamFps:low', 'streamLatencyMs:high']);
    const unwatched = Array.from({ length: 100 }, () => ({ streamFps: 0 }));
    assert.equal(detectAnomalies(series(unwatched)).detected, false);
  });

  it('finds a slow memory leak that no single sample gives away', () => {
    const values = Array.from({ length: 150 }, (_, i) => ({
      memoryMiB: 1000 + (i % 4) + (i >= 60 ? (i - 60) * 3 : 0),
    }));
    const leak = detectAnomalies(series(values)).anomalies.filter((a) => a.metric === 'memoryMiB');
    assert.ok(
      leak.some((a) => a.kind === 'trend'),
      JSON.stringify(leak),
    );
  });

  it('finds injected anomalies in generated workloads with high precision and recall', (t) => {
    const runs = Array.from({ length: 200 }, (_, i) => {
      const workload = generateWorkload(1 + i);
      return { workload, report: detectAnomalies(workload.samples) };
    });
    const score = scoreDetections(runs);
    t.diagnostic(
      `precision ${score.precision.toFixed(3)} recall ${score.recall.toFixed(3)} (${score.injected} injected, ${score.detections} detections)`,
    );
    assert.ok(score.injected > 150, 'enough anomalies to judge');
    assert.ok(score.precision >= 0.9, `precision ${score.precision}`);
    assert.ok(score.recall >= 0.85, `recall ${score.recall}`);
    for (const [kind, k] of Object.entries(score.recallByKind)) {
      assert.ok(k.detected / k.injected >= 0.75, `${kind}: ${k.detected}/${k.injected}`);
    }

    const clean = Array.from({ length: 100 }, (_, i) => {
      const workload = generateWorkload(10_000 + i, { anomalies: 0 });
      return { workload, report: detectAnomalies(workload.samples) };
    });
    const falseAlarms = scoreDetections(clean).detections;
    t.diagnostic(`false alarms on 100 clean workloads: ${falseAlarms}`);
    assert.ok(falseAlarms <= 5, `${falseAlarms} false alarms`);
  });
});
