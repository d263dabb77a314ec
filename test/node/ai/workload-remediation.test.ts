import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { AI_ACTOR, AiService } from '../../../backend-adapter/ai/ai-service.ts';
import { HttpNexusAi } from '../../../backend-adapter/ai/http-nexus-ai.ts';
import { EmbeddedNexusAi, type AnalyzeWorkloadInput } from '../../../backend-adapter/ai/nexus-ai.ts';
import { Remediator, planRemediation } from '../../../backend-adapter/ai/remediation.ts';
import { WorkloadAnalyzer } from '../../../backend-adapter/ai/workload-analyzer.ts';
import type { AnalyticsEvent } from '../../../backend-adapter/analytics/analytics.ts';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import type { WorkloadAnalysis } from '../../../protocol/ai.ts';
import type { MetricsSample } from '../../../protocol/live-events.ts';
import type { Session, Tier } from '../../../protocol/session.ts';

const T0 = Date.parse('2026-03-02T09:00:00.000Z');
const tier = (id: string): Tier => {
  const t = findTier(id);
  if (!t) throw new Error(id);
  return t;
};

/** Samples every 2 s: `minutes` of (cpu %, memory MiB) per phase, appended after `from`. */
function phases(
  list: Array<{ minutes: number; cpu: number; memory?: number }>,
  from: MetricsSample[] = [],
): MetricsSample[] {
  const out = [...from];
  let t = out.length ? Date.parse(out.at(-1)?.at ?? '') + 2000 : T0;
  for (const p of list) {
    for (let i = 0; i < p.minutes * 30; i++, t += 2000) {
      out.push({
        sessionId: 's1',
        at: new Date(t).toISOString(),
        cpuPercent: p.cpu + (i % 3) - 1,
        memoryMiB: p.memory ?? 800,
        gpuPercent: null,
        networkTxBytesPerSec: 0,
        networkRxBytesPerSec: 0,
        streamFps: 0,
        streamLatencyMs: null,
      });
    }
  }
  return out;
}

describe('N.E.X.U.S AI workload analysis (sustained utilisation with hysteresis)', () => {
  it('recommends a bigger tier only for sustained high use, sized for the load', () => {
    const analyzer = new WorkloadAnalyzer();
    // Standard = 2 cores = 200 % of one core. A 5-minute burst at 95 % of it is not sustained.
    const burst = phases([
      { minutes: 10, cpu: 60 },
      { minutes: 5, cpu: 190 },
    ]);
    assert.equal(analyzer.analyze({ sessionId: 'a', tier: 'standard', samples: burst }).direction, 'none');
    const sustained = phases([{ minutes: 12, cpu: 180 }]);
    const up = analyzer.analyze({ sessionId: 'b', tier: 'standard', samples: sustained });
    assert.equal(up.direction, 'up');
    assert.equal(up.shouldScale, true);
    assert.equal(up.targetTier, 'pro', 'p90 1.8 cores at 60 % target needs 3 cores: Pro has 4');
    assert.ok(up.cpu.highShare > 0.9);
    assert.match(up.reason, /85 %/);
  });

  it('holds a recommendation until use really leaves its band (no flapping at a threshold)', () => {
    const analyzer = new WorkloadAnalyzer();
    let samples = phases([{ minutes: 12, cpu: 180 }]);
    assert.equal(analyzer.analyze({ sessionId: 'h', tier: 'standard', samples }).direction, 'up');
    samples = phases([{ minutes: 10, cpu: 150 }], samples); // 75 %: below the entry, above the exit threshold
    assert.equal(analyzer.analyze({ sessionId: 'h', tier: 'standard', samples }).direction, 'up');
    samples = phases([{ minutes: 10, cpu: 100 }], samples); // 50 %
    assert.equal(analyzer.analyze({ sessionId: 'h', tier: 'standard', samples }).direction, 'none');

    // Use that alternates around the entry threshold minute by minute never enters.
    const fresh = new WorkloadAnalyzer();
    let wobble: MetricsSample[] = [];
    const decisions: string[] = [];
    for (let m = 0; m < 40; m++) {
      wobble = phases([{ minutes: 1, cpu: m % 2 ? 176 : 164 }], wobble);
      decisions.push(fresh.analyze({ sessionId: 'w', tier: 'standard', samples: wobble }).direction);
    }
    const changes = decisions.filter((d, i) => i > 0 && d !== decisions[i - 1]).length;
    assert.ok(changes <= 1, decisions.join(','));
  });

  it('recommends a smaller tier after half an hour of low use, and waits for enough samples', () => {
    const analyzer = new WorkloadAnalyzer();
    assert.match(
      analyzer.analyze({ sessionId: 'd', tier: 'pro', samples: phases([{ minutes: 3, cpu: 20 }]) }).reason,
      /Not enough samples/,
    );
    const down = analyzer.analyze({
      sessionId: 'd',
      tier: 'pro',
      samples: phases([{ minutes: 32, cpu: 30, memory: 500 }]),
    });
    assert.equal(down.direction, 'down');
    assert.equal(down.targetTier, 'basic');
    const basic = new WorkloadAnalyzer().analyze({
      sessionId: 'e',
      tier: 'basic',
      samples: phases([{ minutes: 32, cpu: 5, memory: 200 }]),
    });
    assert.equal(basic.direction, 'none', 'nothing is smaller than Basic');
    assert.match(basic.reason, /no smaller tier/);
  });
});

describe('N.E.X.U.S AI remediation', () => {
  const emptyReport = { detected: false, anomalies: [], samples: 0 };
  const none: WorkloadAnalysis = new WorkloadAnalyzer().analyze({
    sessionId: 'x',
    tier: 'standard',
    samples: [],
  });

  it('pauses a runaway desktop (CPU ≥ 1.5× its allocation for 5 minutes), once per cooldown', async () => {
    const samples = phases([
      { minutes: 5, cpu: 50 },
      { minutes: 6, cpu: 350 },
    ]);
    const plan = planRemediation({
      sessionId: 's1',
      tier: tier('standard'),
      samples,
      workload: none,
      anomalies: emptyReport,
    });
    assert.deepEqual(
      plan.map((a) => [a.kind, a.status]),
      [['pause-session', 'planned']],
    );
    const paused: string[] = [];
    let now = 0;
    const remediator = new Remediator(
      { pauseSession: async (id) => void paused.push(id) },
      undefined,
      () => now,
    );
    assert.equal((await remediator.apply('s1', plan))[0]?.status, 'applied');
    now += 60_000;
    assert.equal(
      (await remediator.apply('s1', plan))[0]?.status,
      'skipped',
      'the user resumed: not again at once',
    );
    now += 15 * 60_000;
    assert.equal((await remediator.apply('s1', plan))[0]?.status, 'applied');
    assert.deepEqual(paused, ['s1', 's1']);
    // Under the threshold nothing is planned.
    const busy = phases([{ minutes: 10, cpu: 250 }]);
    assert.deepEqual(
      planRemediation({
        sessionId: 's1',
        tier: tier('standard'),
        samples: busy,
        workload: none,
        anomalies: emptyReport,
      }),
      [],
    );
  });

  it('turns stream anomalies into lower quality and a stall into reconnect: applied with a gateway hook, advice without', async () => {
    const samples = phases([{ minutes: 2, cpu: 20 }]);
    const last = samples.at(-1)?.at ?? '';
    const anomalies = {
      detected: true,
      samples: samples.length,
      anomalies: [
        {
          metric: 'streamLatencyMs' as const,
          kind: 'high' as const,
          startedAt: last,
          endedAt: last,
          points: 4,
          peakScore: 9,
          value: 400,
          baseline: 30,
        },
        {
          metric: 'streamFps' as const,
          kind: 'low' as const,
          startedAt: last,
          endedAt: last,
          points: 4,
          peakScore: 7,
          value: 2,
          baseline: 25,
        },
      ],
    };
    const plan = planRemediation({
      sessionId: 's1',
      tier: tier('basic'),
      samples,
      workload: none,
      anomalies,
      stalledMs: 20_000,
    });
    assert.deepEqual(
      plan.map((a) => a.kind),
      ['lower-quality', 'reconnect-stream'],
    );
    assert.match(plan[0]?.reason ?? '', /latency is 400 ms.*2 frames per second/);
    assert.deepEqual(
      planRemediation({
        sessionId: 's1',
        tier: tier('basic'),
        samples,
        workload: none,
        anomalies,
        stalledMs: 3000,
      }).map((a) => a.kind),
      ['lower-quality'],
      'a stream owing progress for 3 s is not stalled',
    );
    const advice = await new Remediator({ pauseSession: async () => undefined }).apply('s1', plan);
    assert.deepEqual(
      advice.map((a) => a.status),
      ['recommended', 'recommended'],
    );
    const hooked = await new Remediator({
      pauseSession: async () => undefined,
      reconnectStream: async () => true,
      lowerQuality: async () => false,
    }).apply('s1', plan);
    assert.deepEqual(
      hooked.map((a) => a.status),
      ['skipped', 'applied'],
    );
  });

  it('recommends a bigger tier for a memory leak and for sustained load (advice: tiers cannot change live)', () => {
    const samples = phases([{ minutes: 12, cpu: 180 }]);
    const workload = new WorkloadAnalyzer().analyze({ sessionId: 's', tier: 'standard', samples });
    const plan = planRemediation({
      sessionId: 's',
      tier: tier('standard'),
      samples,
      workload,
      anomalies: emptyReport,
    });
    assert.deepEqual(
      plan.map((a) => [a.kind, a.status, a.targetTier]),
      [['recommend-tier', 'recommended', 'pro']],
    );
  });
});

describe('N.E.X.U.S AI over HTTP (AI_URL), with the embedded model as fallback', () => {
  let server: Server;
  let url: string;
  let mode: 'good' | 'error' | 'slow' | 'malformed' = 'good';
  const bodies: Array<{ path: string; body: unknown; handshake: unknown }> = [];
  const remote: WorkloadAnalysis = {
    shouldScale: true,
    direction: 'up',
    currentTier: 'basic',
    targetTier: 'ultra',
    reason: 'the external model says so',
    samples: 3,
    windowSeconds: 4,
    cpu: { mean: 0.9, p90: 0.95, highShare: 1, lowShare: 0 },
    memory: { mean: 0.3, p90: 0.3, highShare: 0, lowShare: 0 },
  };

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({
          path: req.url ?? '',
          body: JSON.parse(Buffer.concat(chunks).toString()),
          handshake: req.headers['x-n3xus-handshake'],
        });
        if (mode === 'error') {
          res.statusCode = 500;
          res.end('{}');
        } else if (mode === 'slow') {
          setTimeout(() => res.end(JSON.stringify(remote)), 6000);
        } else {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(mode === 'malformed' ? { ...remote, direction: 'sideways' } : remote));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/nexus-ai/v1`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('uses the service’s validated answer, and the embedded model when it fails, stalls or talks nonsense', async () => {
    const fallbacks: string[] = [];
    // The timeout sits far from both a good answer and the 6 s stall, so a loaded machine cannot blur them.
    const ai = new HttpNexusAi(
      { url, timeoutMs: 2000, onFallback: (op, why) => fallbacks.push(`${op}: ${why}`) },
      new EmbeddedNexusAi(),
    );
    const input: AnalyzeWorkloadInput = {
      sessionId: 's1',
      tier: 'basic',
      currentMetrics: phases([{ minutes: 1, cpu: 20 }]),
      historicalData: [{ sessionId: 'old', tier: 'basic', startTime: 'a', endTime: 'b', activeSeconds: 60 }],
    };
    mode = 'good';
    assert.deepEqual(await ai.analyzeWorkload(input), { value: remote, source: 'nexus-ai' });
    const sent = bodies.at(-1);
    assert.equal(sent?.path, '/nexus-ai/v1/analyze-workload');
    assert.equal(sent?.handshake, '55-45-17');
    assert.deepEqual((sent?.body as AnalyzeWorkloadInput).historicalData, input.historicalData);

    const embedded = await new EmbeddedNexusAi().analyzeWorkload(input);
    for (const m of ['error', 'slow', 'malformed'] as const) {
      mode = m;
      const answer = await ai.analyzeWorkload(input);
      assert.equal(answer.source, 'embedded-fallback', m);
      assert.deepEqual(answer.value, embedded.value, m);
    }
    assert.equal(fallbacks.length, 3);
    assert.match(fallbacks[0] ?? '', /HTTP 500/);
    assert.match(fallbacks[2] ?? '', /malformed/);
    mode = 'error';
    assert.equal(
      (await ai.detectAnomalies({ sessionId: 's1', metrics: input.currentMetrics })).source,
      'embedded-fallback',
    );
  });
});

describe('N.E.X.U.S AI service: health monitor and auto-remediation through the lifecycle', () => {
  it('pauses a runaway session as system:nexus-ai in "act" mode, only reports in "recommend" mode', async () => {
    const canon = new SqliteCanonStore(':memory:');
    const session: Session = {
      sessionId: 's1',
      userId: 'alice',
      tenantId: 'tenant-a',
      tier: 'standard',
      resources: tier('standard').resources,
      state: 'active',
      createdAt: new Date(T0).toISOString(),
      canonTimestamp: new Date(T0).toISOString(),
      handshake: '55-45-17',
    };
    await canon.createSession({ session, runtime: null, lastActivityAt: session.createdAt }, 'alice');
    const samples = phases([
      { minutes: 4, cpu: 40 },
      { minutes: 6, cpu: 360 },
    ]);
    const pauses: Principal[] = [];
    const tracked: AnalyticsEvent[] = [];
    const make = (mode: 'act' | 'recommend') =>
      new AiService({
        ai: new EmbeddedNexusAi(),
        canon,
        sampler: { recent: () => samples },
        lifecycle: {
          get: async () => session,
          pause: async (principal) => {
            pauses.push(principal);
            return { ...session, state: 'paused' };
          },
        },
        analytics: {
          track: (e) => void tracked.push(e),
          flush: async () => undefined,
          exportUser: async () => ({ heldBy: 'local-file', events: [] }),
          eraseUser: async () => ({ eventsPseudonymised: 0, forwarded: false }),
        },
        logger: pino({ level: 'silent' }),
        mode,
        clock: () => new Date(Date.parse(samples.at(-1)?.at ?? '') + 1000),
      });
    try {
      const reported = await make('recommend').monitorOnce();
      assert.deepEqual(
        reported.map((r) => r.actions.map((a) => [a.kind, a.status])),
        [[['pause-session', 'recommended']]],
      );
      assert.equal(pauses.length, 0);

      const acted = await make('act').monitorOnce();
      assert.deepEqual(
        acted.map((r) => r.actions.map((a) => [a.kind, a.status])),
        [[['pause-session', 'applied']]],
      );
      assert.deepEqual(pauses, [{ userId: AI_ACTOR, tenantId: 'tenant-a', roles: ['admin'] }]);
      assert.equal(tracked.at(-1)?.event, 'supercore.ai.remediation');
      assert.equal(tracked.at(-1)?.userId, 'alice');

      const forecast = await make('act').predictions({ userId: 'alice', tenantId: 'tenant-a' }, 24);
      assert.equal(forecast.hours.length, 24);
      assert.equal(forecast.source, 'embedded');
      assert.equal(forecast.basedOnSessions, 1);
      const rec = await make('act').recommendations({ userId: 'alice', tenantId: 'tenant-a' }, 's1');
      assert.equal(rec.workload.currentTier, 'standard');
      assert.equal(rec.remediation[0]?.status, 'planned', 'a read applies nothing');
    } finally {
      await canon.close();
    }
  });
});
