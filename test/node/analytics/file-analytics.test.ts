import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../backend-adapter/analytics/analytics.ts';
import { FileAnalytics } from '../../../backend-adapter/analytics/file-analytics.ts';
import {
  SESSION_LIFECYCLE_EVENT,
  SESSION_METRICS_EVENT,
  SessionAnalytics,
  tapPublishes,
  trackLifecycle,
} from '../../../backend-adapter/analytics/session-analytics.ts';
import type { SessionRow } from '../../../backend-adapter/canon/canon-store.ts';
import { InProcessSessionEventBus } from '../../../backend-adapter/events/in-process-session-event-bus.ts';
import type { MetricsSample } from '../../../protocol/live-events.ts';
import type { Session } from '../../../protocol/session.ts';

const session = (sessionId: string, userId = 'alice', state: Session['state'] = 'active'): Session => ({
  sessionId,
  userId,
  tenantId: 'tenant-a',
  tier: 'standard',
  resources: {
    cpuMillicores: 2000,
    memoryMiB: 4096,
    storageGiB: 25,
    gpus: 0,
    display: { width: 1280, height: 800 },
  },
  state,
  createdAt: '2026-03-02T09:00:00.000Z',
  canonTimestamp: '2026-03-02T09:00:00.000Z',
  handshake: '55-45-17',
});

const sample = (sessionId: string, cpuPercent: number, memoryMiB: number): MetricsSample => ({
  sessionId,
  at: new Date().toISOString(),
  cpuPercent,
  memoryMiB,
  gpuPercent: null,
  networkTxBytesPerSec: 0,
  networkRxBytesPerSec: 0,
  streamFps: 20,
  streamLatencyMs: null,
});

async function readLines(file: string): Promise<AnalyticsEvent[]> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AnalyticsEvent);
}

describe('v-analytics embedded default: a local JSON-lines file', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-analytics-'));
    file = join(dir, 'analytics', 'events.jsonl');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes the spec’s session metrics event and reads it back; lifecycle events, one per change', async () => {
    const analytics = new FileAnalytics(file, { flushIntervalMs: 10_000 });
    const rows = new Map<string, SessionRow>([
      ['s1', { session: session('s1'), runtime: null, lastActivityAt: '' }],
      ['s2', { session: session('s2', 'bob'), runtime: null, lastActivityAt: '' }],
    ]);
    const listeners = new Set<(s: MetricsSample) => void>();
    const sampler = {
      onSample(listener: (s: MetricsSample) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const now = new Date('2026-03-02T09:10:00.000Z');
    const tracker = new SessionAnalytics({
      analytics,
      canon: { getSession: async (id) => rows.get(id) },
      sampler,
      intervalMs: 60_000,
      clock: () => now,
    });
    tracker.start();
    for (const s of [
      sample('s1', 40, 1000),
      sample('s1', 60, 1200),
      sample('s2', 5, 300),
      sample('gone', 1, 1),
    ]) {
      for (const l of listeners) l(s);
    }
    assert.equal(
      await tracker.report(),
      2,
      'one event per live session; a session Canon does not know is skipped',
    );
    assert.equal(await tracker.report(), 0, 'nothing sampled since: nothing to report');
    tracker.stop();
    assert.equal(listeners.size, 0);

    // Lifecycle: published changes are tracked once each; changes only heard from the bus (another replica) are not.
    const bus = new InProcessSessionEventBus();
    const tapped = tapPublishes(bus, (e) => trackLifecycle(analytics, e, now));
    const heard: string[] = [];
    tapped.subscribe((e) => heard.push(e.session.state));
    await tapped.publish({
      type: 'session.changed',
      session: session('s1', 'alice', 'paused'),
      previousState: 'pausing',
    });
    await bus.publish({
      type: 'session.changed',
      session: session('s2', 'bob', 'active'),
      previousState: 'resuming',
    });
    assert.deepEqual(heard, ['paused', 'active'], 'the bus itself is unchanged');

    await analytics.flush();
    const events = await readLines(file);
    const metrics = events.filter((e) => e.event === SESSION_METRICS_EVENT);
    assert.deepEqual(
      metrics.map((e) => [e.userId, e.properties]),
      [
        [
          'alice',
          {
            sessionId: 's1',
            tier: 'standard',
            duration: 600,
            cpuUsage: 50,
            memoryUsage: 1100,
            tenantId: 'tenant-a',
            state: 'active',
            peakCpuUsage: 60,
            streamFps: 20,
            samples: 2,
          },
        ],
        [
          'bob',
          {
            sessionId: 's2',
            tier: 'standard',
            duration: 600,
            cpuUsage: 5,
            memoryUsage: 300,
            tenantId: 'tenant-a',
            state: 'active',
            peakCpuUsage: 5,
            streamFps: 20,
            samples: 1,
          },
        ],
      ],
    );
    const lifecycle = events.filter((e) => e.event === SESSION_LIFECYCLE_EVENT);
    assert.deepEqual(
      lifecycle.map((e) => [e.userId, e.properties.sessionId, e.properties.from, e.properties.to]),
      [['alice', 's1', 'pausing', 'paused']],
    );
  });

  it('bounds its queue, counting what it drops, and never throws at the caller', async () => {
    const drops: Array<[string, number]> = [];
    const analytics = new FileAnalytics(file, {
      maxQueue: 10,
      flushIntervalMs: 10_000,
      onDrop: (r, n) => drops.push([r, n]),
    });
    for (let n = 0; n < 25; n++)
      analytics.track({ event: 'e', userId: 'u', properties: { n }, timestamp: '' });
    assert.equal(analytics.dropped, 15);
    assert.equal(
      drops.reduce((a, [, n]) => a + n, 0),
      15,
    );
    await analytics.flush();
    assert.deepEqual(
      (await readLines(file)).map((e) => e.properties.n),
      Array.from({ length: 10 }, (_, i) => 15 + i),
    );

    const unwritable = new FileAnalytics(join(dir, 'analytics', 'events.jsonl', 'not-a-dir', 'x.jsonl'), {
      onDrop: (r, n) => drops.push([r, n]),
    });
    unwritable.track({ event: 'e', userId: 'u', properties: {}, timestamp: '' });
    await unwritable.flush();
    assert.deepEqual(drops.at(-1), ['write-failed', 1]);
  });

  it('exports one user’s events and pseudonymises them on erasure, leaving others untouched', async () => {
    const analytics = new FileAnalytics(file);
    for (const userId of ['erin', 'fred', 'erin']) {
      analytics.track({ event: 'supercore.web-vitals', userId, properties: { name: 'LCP' }, timestamp: '' });
    }
    assert.deepEqual(
      (await analytics.exportUser('erin')).events.map((e) => e.userId),
      ['erin', 'erin'],
    );
    analytics.track({ event: 'late', userId: 'erin', properties: {}, timestamp: '' }); // still queued
    assert.deepEqual(await analytics.eraseUser('erin', 'subj_9'), {
      eventsPseudonymised: 3,
      forwarded: false,
    });
    const text = await readFile(file, 'utf8');
    assert.ok(!text.includes('erin'));
    assert.deepEqual(
      (await readLines(file)).map((e) => e.userId),
      ['subj_9', 'fred', 'subj_9', 'subj_9'],
    );
    assert.deepEqual((await analytics.exportUser('erin')).events, []);
    analytics.track({ event: 'after', userId: 'fred', properties: {}, timestamp: '' });
    await analytics.flush();
    assert.equal((await readLines(file)).length, 5, 'appending still works after the rewrite');
  });
});
