import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { AnalyticsEvent } from '../../../backend-adapter/analytics/analytics.ts';
import { HttpAnalytics } from '../../../backend-adapter/analytics/http-analytics.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { AdapterMetrics } from '../../../backend-adapter/observability/prometheus-metrics.ts';
import { HANDSHAKE } from '../../../protocol/handshake.ts';
import { FakeAnalyticsServer } from './fake-analytics-server.ts';

const event = (n: number, userId = 'alice'): AnalyticsEvent => ({
  event: 'supercore.session.metrics',
  userId,
  properties: { n, sessionId: 's1', tier: 'basic', duration: n, cpuUsage: 12.5, memoryUsage: 512 },
  timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
});

describe('v-analytics HTTP adapter against a local server that fails and stalls', () => {
  let server: FakeAnalyticsServer;
  let analytics: HttpAnalytics | undefined;

  beforeEach(async () => {
    server = await new FakeAnalyticsServer().start();
  });
  afterEach(async () => {
    await analytics?.close();
    analytics = undefined;
    await server.stop();
  });

  it('sends in batches, in order, with the handshake, the token and an idempotency key', async () => {
    analytics = new HttpAnalytics({
      url: server.url,
      token: 'secret-token',
      maxBatch: 10,
      flushIntervalMs: 20,
    });
    for (let n = 0; n < 25; n++) analytics.track(event(n));
    await analytics.flush();
    assert.deepEqual(
      server.events().map((e) => e.properties.n),
      Array.from({ length: 25 }, (_, n) => n),
    );
    for (const batch of server.received) {
      assert.ok(batch.body.events.length <= 10);
      assert.equal(batch.headers.authorization, 'Bearer secret-token');
      assert.equal(batch.headers['x-n3xus-handshake'], HANDSHAKE);
      assert.equal(batch.headers['idempotency-key'], batch.body.batchId);
      assert.equal(batch.body.module, 'v-supercore');
    }
    const first = server.events()[0];
    assert.equal(first?.event, 'supercore.session.metrics');
    assert.deepEqual(Object.keys(first?.properties ?? {}).sort(), [
      'cpuUsage',
      'duration',
      'memoryUsage',
      'n',
      'sessionId',
      'tier',
    ]);
    assert.equal(analytics.queued, 0);
  });

  it('retries a failing v-analytics with growing backoff, keeping the batch id: nothing lost, nothing new', async () => {
    server.script = [{ status: 500 }, { status: 503 }, { status: 502 }, { status: 429 }];
    analytics = new HttpAnalytics({
      url: server.url,
      maxBatch: 100,
      flushIntervalMs: 5,
      retryBaseMs: 20,
      retryMaxMs: 1000,
      flushTimeoutMs: 5000,
    });
    for (let n = 0; n < 5; n++) analytics.track(event(n));
    await analytics.flush();
    assert.equal(server.received.length, 5, 'four failures, then success');
    const keys = new Set(server.received.map((b) => b.headers['idempotency-key']));
    assert.equal(keys.size, 1, 'every attempt is the same batch');
    const ids = new Set(server.received.map((b) => b.body.events.map((e) => e.eventId).join()));
    assert.equal(ids.size, 1, 'with the same event ids');
    const gaps = server.received.slice(1).map((b, i) => b.at - (server.received[i]?.at ?? 0));
    // Backoff ceilings 20, 40, 80, 160 ms with jitter in [ceiling/2, ceiling]: the last wait outgrows the first.
    assert.ok((gaps[3] ?? 0) > (gaps[0] ?? 0) * 2, `gaps ${gaps.join(', ')}`);
    assert.ok((gaps[3] ?? 0) >= 70, `gaps ${gaps.join(', ')}`);
    assert.equal(analytics.dropped['queue-full'] + analytics.dropped.rejected, 0);
  });

  it('abandons a request that stalls past its timeout and sends the same batch again', async () => {
    server.script = [{ delayMs: 400 }];
    analytics = new HttpAnalytics({
      url: server.url,
      flushIntervalMs: 5,
      requestTimeoutMs: 100,
      retryBaseMs: 10,
      flushTimeoutMs: 3000,
    });
    analytics.track(event(1));
    analytics.track(event(2));
    const started = Date.now();
    await analytics.flush();
    assert.ok(Date.now() - started < 400, 'did not wait for the stalled answer');
    assert.equal(server.received.length, 2);
    const [a, b] = server.received;
    assert.equal(a?.body.batchId, b?.body.batchId, 'v-analytics can discard the duplicate by batch id');
    assert.deepEqual(
      a?.body.events.map((e) => e.eventId),
      b?.body.events.map((e) => e.eventId),
    );
  });

  it('never blocks: with v-analytics down the queue stays bounded, drops the oldest and counts them for Prometheus', async () => {
    const canon = new SqliteCanonStore(':memory:');
    const metrics = new AdapterMetrics(canon);
    try {
      server.fallback = { status: 503 };
      analytics = new HttpAnalytics({
        url: server.url,
        maxQueue: 100,
        maxBatch: 50,
        flushIntervalMs: 5,
        retryBaseMs: 5,
        retryMaxMs: 20,
        flushTimeoutMs: 100,
        onDrop: (reason, count) => metrics.analyticsEventsDropped.inc({ reason }, count),
      });
      for (let n = 0; n < 1000; n++) {
        // track() is synchronous and returns nothing to wait for.
        assert.equal(analytics.track(event(n)), undefined);
      }
      assert.equal(analytics.queued, 100);
      assert.equal(analytics.dropped['queue-full'], 900);
      const text = await metrics.registry.metrics();
      assert.match(text, /^v_supercore_analytics_events_dropped_total\{reason="queue-full"\} 900$/m);

      await analytics.flush(); // still down: gives up after flushTimeoutMs, keeps the events
      assert.equal(analytics.queued, 100);

      server.fallback = { status: 200 };
      await new Promise((r) => setTimeout(r, 60));
      await analytics.flush();
      // Only the newest 100 survive, each accepted exactly once.
      assert.deepEqual(
        server.events(true).map((e) => e.properties.n),
        Array.from({ length: 100 }, (_, i) => 900 + i),
      );
      assert.equal(analytics.queued, 0);
    } finally {
      metrics.registry.clear();
      await canon.close();
    }
  });

  it('drops a batch v-analytics refuses as malformed (4xx) instead of retrying it forever', async () => {
    server.script = [{ status: 400 }];
    const drops: Array<[string, number]> = [];
    analytics = new HttpAnalytics({
      url: server.url,
      flushIntervalMs: 5,
      onDrop: (r, c) => drops.push([r, c]),
    });
    for (let n = 0; n < 3; n++) analytics.track(event(n));
    await analytics.flush();
    analytics.track(event(3));
    await analytics.flush();
    assert.deepEqual(drops, [['rejected', 3]]);
    assert.deepEqual(
      server.received.map((b) => b.body.events.length),
      [3, 1],
    );
  });

  it('forwards a GDPR erasure directly (not through the droppable queue) and pseudonymises what is queued', async () => {
    server.fallback = { status: 503 };
    analytics = new HttpAnalytics({
      url: server.url,
      flushIntervalMs: 60_000,
      retryBaseMs: 5,
      flushTimeoutMs: 300,
    });
    analytics.track(event(1, 'erin'));
    analytics.track(event(2, 'fred'));
    const exported = await analytics.exportUser('erin');
    assert.equal(exported.heldBy, 'v-analytics');
    assert.deepEqual(
      exported.events.map((e) => e.userId),
      ['erin'],
    );
    assert.match(exported.note ?? '', /v-analytics/);

    server.fallback = { status: 200 };
    const result = await analytics.eraseUser('erin', 'subj_0123');
    assert.deepEqual(result, { eventsPseudonymised: 1, forwarded: true });
    const request = server.received.find((b) => b.body.events[0]?.event === 'supercore.privacy.erasure');
    assert.equal(request?.body.events[0]?.userId, 'erin');
    assert.equal(request?.body.events[0]?.properties.pseudonym, 'subj_0123');
    assert.equal(request?.body.events.length, 1, 'sent on its own, not with the queued events');

    // v-analytics refusing it makes the erasure fail (so it can be retried before Canon Memory forgets).
    server.fallback = { status: 503 };
    await assert.rejects(analytics.eraseUser('fred', 'subj_4567'), /did not accept the erasure/);
    server.fallback = { status: 200 };
    await analytics.flush();
    const users = server
      .events(true)
      .filter((e) => e.event === 'supercore.session.metrics')
      .map((e) => e.userId);
    assert.deepEqual(users.sort(), ['subj_0123', 'subj_4567']);
  });
});

describe('v-analytics HTTP adapter with nothing listening', () => {
  let analytics: HttpAnalytics;
  before(() => {
    analytics = new HttpAnalytics({
      url: 'http://127.0.0.1:9/unreachable',
      flushIntervalMs: 5,
      retryBaseMs: 5,
      flushTimeoutMs: 100,
    });
  });
  after(() => analytics.close());

  it('keeps the events and gives up flushing within its deadline', async () => {
    analytics.track(event(1));
    const started = Date.now();
    await analytics.flush();
    assert.ok(Date.now() - started < 1000);
    assert.equal(analytics.queued, 1);
  });
});
