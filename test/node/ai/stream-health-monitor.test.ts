import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { RemediationMode } from '../../../backend-adapter/ai/remediation.ts';
import type { AnalyticsEvent } from '../../../backend-adapter/analytics/analytics.ts';
import { StreamHealthMonitor } from '../../../backend-adapter/ai/stream-health-monitor.ts';
import type { SessionRow } from '../../../backend-adapter/canon/canon-store.ts';
import { StreamRemediation } from '../../../backend-adapter/gateway/stream-remediation.ts';
import type { ViewerControls } from '../../../backend-adapter/gateway/viewer-controls.ts';
import { StreamSampler } from '../../../backend-adapter/observability/stream-sampler.ts';
import { StreamStats } from '../../../backend-adapter/observability/stream-stats.ts';
import type { SessionState } from '../../../protocol/session.ts';
import type { StreamQuality } from '../../../protocol/stream.ts';

/** A viewer's stream controls that record what remediation asked of them. */
function fakeViewer(stalledMs = 0) {
  let quality: StreamQuality = { jpeg: 8, compression: 2 };
  const asked: string[] = [];
  const controls: ViewerControls = {
    version: 2,
    quality: () => quality,
    stalledMs: () => stalledMs,
    lowerQuality: (q) => {
      asked.push(`quality ${q.jpeg}/${q.compression}`);
      quality = q;
      return true;
    },
    reconnect: () => {
      asked.push('reconnect');
      return true;
    },
  };
  return { controls, asked };
}

/** One gateway's streams of one session, sampled every 2 s from t = 0, with a monitor over them. */
function gateway(options: { state?: SessionState; mode?: RemediationMode; stalledMs?: number } = {}) {
  const streams = new StreamStats();
  const sampler = new StreamSampler(streams);
  const counted: string[] = [];
  const warnings: string[] = [];
  const reported: AnalyticsEvent[] = [];
  const row = {
    session: {
      sessionId: 's1',
      userId: 'u1',
      tenantId: 't1',
      tier: 'standard',
      state: options.state ?? 'active',
    },
  };
  const monitor = new StreamHealthMonitor({
    canon: { getSession: async (id) => (id === 's1' ? (row as unknown as SessionRow) : undefined) },
    windows: sampler,
    effects: new StreamRemediation(streams),
    mode: options.mode ?? 'act',
    logger: pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          warnings.push((JSON.parse(line) as { action?: string }).action ?? line);
        },
      },
    ),
    analytics: { track: (e) => reported.push(e) },
    metrics: { aiRemediations: { inc: (l) => counted.push(`${l.kind}:${l.status}`) } },
  });
  const viewer = streams.observe('s1', () => undefined);
  const fake = fakeViewer(options.stalledMs);
  viewer.observer.onControls?.(fake.controls);
  let t = 0;
  /** `rounds` sampling windows in which the viewer draws every update, with this round-trip time. */
  const stream = (rounds: number, rttMs: number) => {
    for (let i = 0; i < rounds; i++) {
      for (let u = 0; u < 20; u++) viewer.observer.onUpdateSent?.(2000);
      viewer.observer.onUpdatesDrawn?.(20);
      viewer.observer.onRtt?.(rttMs + (i % 3));
      sampler.sample((t += 2000));
    }
  };
  return {
    monitor,
    viewer,
    fake,
    stream,
    counted,
    warnings,
    reported,
    sample: () => sampler.sample((t += 2000)),
  };
}

describe('StreamHealthMonitor (N.E.X.U.S AI remediation in the stream gateway)', () => {
  it('lowers the quality of a stream whose latency jumps, and counts and reports it', async () => {
    const g = gateway();
    g.sample();
    g.stream(30, 20);
    assert.deepEqual(await g.monitor.monitorOnce(), [], 'a steady stream is left alone');
    g.stream(3, 400);
    const [result] = await g.monitor.monitorOnce();
    assert.equal(result?.sessionId, 's1');
    assert.deepEqual(
      result?.actions.map((a) => [a.kind, a.status]),
      [['lower-quality', 'applied']],
    );
    assert.match(result?.actions[0]?.reason ?? '', /^Stream latency is 40\d ms against a usual 2\d ms/);
    assert.deepEqual(g.fake.asked, ['quality 6/4']);
    assert.deepEqual(g.counted, ['lower-quality:applied']);
    assert.deepEqual(g.warnings, ['lower-quality']);
    assert.deepEqual(
      g.reported.map((e) => [
        e.event,
        e.userId,
        e.properties.sessionId,
        e.properties.kind,
        e.properties.status,
      ]),
      [['supercore.ai.remediation', 'u1', 's1', 'lower-quality', 'applied']],
      'reported to v-analytics as the orchestrator reports its own',
    );
  });

  it('reconnects a stalled viewer', async () => {
    const g = gateway({ stalledMs: 20_000 });
    g.sample();
    g.stream(2, 20);
    const [result] = await g.monitor.monitorOnce();
    assert.deepEqual(
      result?.actions.map((a) => [a.kind, a.status]),
      [['reconnect-stream', 'applied']],
    );
    assert.deepEqual(g.fake.asked, ['reconnect']);
  });

  it('only advises in recommend mode, and leaves sessions that are not active alone', async () => {
    const advising = gateway({ mode: 'recommend', stalledMs: 20_000 });
    advising.sample();
    advising.stream(2, 20);
    const [result] = await advising.monitor.monitorOnce();
    assert.deepEqual(
      result?.actions.map((a) => [a.kind, a.status]),
      [['reconnect-stream', 'recommended']],
    );
    assert.deepEqual(advising.fake.asked, []);
    assert.deepEqual(advising.counted, []);
    assert.deepEqual(advising.reported, [], 'advice is not an action taken');

    const paused = gateway({ state: 'paused', stalledMs: 20_000 });
    paused.sample();
    paused.stream(2, 20);
    assert.deepEqual(await paused.monitor.monitorOnce(), []);
    assert.deepEqual(paused.fake.asked, []);
  });

  it('forgets a session once nobody watches it', async () => {
    const g = gateway({ stalledMs: 20_000 });
    g.sample();
    g.stream(2, 20);
    g.viewer.release();
    g.sample();
    assert.deepEqual(await g.monitor.monitorOnce(), []);
    assert.deepEqual(g.fake.asked, []);
  });
});
