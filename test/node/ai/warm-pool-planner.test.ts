import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import {
  DEFAULT_WARM_POOL_PLAN,
  WarmPoolPlanner,
  planWarmPool,
  warmDesktopsNeeded,
} from '../../../backend-adapter/ai/warm-pool-planner.ts';
import type { LaunchRecord } from '../../../backend-adapter/canon/canon-store.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import type { Session } from '../../../protocol/session.ts';
import { ConfigError, loadConfig } from '../../../backend-adapter/config.ts';
import { KubernetesRuntime } from '../../../backend-adapter/runtime/kubernetes/kubernetes-runtime.ts';
import type { KubernetesRuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { startFakeCluster, type FakeCluster } from '../../support/fake-kubernetes/fake-cluster.ts';

const HOUR = 3_600_000;
const WEEK = 168 * HOUR;
/** A Monday, 00:00 UTC, six weeks after the generated history starts. */
const MONDAY = Date.parse('2026-02-16T00:00:00Z');

/** `users` who each launched `tier` every weekday at 09:1x for the past `weeks` weeks. */
function mornings(users: number, weeks: number, tier: LaunchRecord['tier'] = 'basic'): LaunchRecord[] {
  const out: LaunchRecord[] = [];
  for (let u = 0; u < users; u++)
    for (let w = 1; w <= weeks; w++)
      for (let d = 0; d < 5; d++)
        out.push({
          userId: `user-${u}`,
          tenantId: 'tenant-w',
          tier,
          createdAt: new Date(MONDAY - w * WEEK + d * 24 * HOUR + 9 * HOUR + (10 + u) * 60_000).toISOString(),
        });
  return out;
}

async function waitFor(ok: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Warm pool sized by the launch predictions', () => {
  it('counts warm desktops for independent launches (Poisson-binomial), capped', () => {
    assert.equal(warmDesktopsNeeded([], 0.1, 5), 0);
    assert.equal(warmDesktopsNeeded([0.01, 0.02, 0.01], 0.1, 5), 0, 'unlikely launches need none');
    assert.equal(warmDesktopsNeeded([1, 1], 0.1, 5), 2, 'two certain launches need two');
    assert.equal(warmDesktopsNeeded([0.5, 0.5], 0.1, 5), 2, 'P(2 launches) = 0.25 > 0.1');
    assert.equal(warmDesktopsNeeded([0.5, 0.5], 0.3, 5), 1);
    assert.equal(warmDesktopsNeeded(new Array(20).fill(0.9), 0.1, 5), 5, 'never above the ceiling');
  });

  it('grows a tier before its predicted busy hour, back to the floor after it, within the bounds', () => {
    const history = mornings(3, 6);
    const bounds = { basic: { floor: 1, ceiling: 4 }, pro: { floor: 0, ceiling: 2 } };
    const at = (hours: number) =>
      planWarmPool(history, new Date(MONDAY + hours * HOUR), bounds, {
        ...DEFAULT_WARM_POOL_PLAN,
        leadMs: 30 * 60_000,
      });
    assert.deepEqual(at(3), { basic: 1, pro: 0 }, 'at night: the floor');
    assert.deepEqual(at(8.6), { basic: 3, pro: 0 }, 'half an hour ahead of 09:00: three users launch then');
    assert.deepEqual(at(9.2), { basic: 3, pro: 0 });
    assert.deepEqual(at(11), { basic: 1, pro: 0 }, 'after the busy hour: back to the floor');
    assert.deepEqual(at(5 * 24 + 8.6), { basic: 1, pro: 0 }, 'Saturday: nobody works');
    const many = planWarmPool(mornings(9, 6), new Date(MONDAY + 9.2 * HOUR), bounds);
    assert.equal(many.basic, 4, 'nine users, but the ceiling is four');
  });

  it('refuses a WARM_POOL_MAX below WARM_POOL, and keeps fixed pools fixed', () => {
    assert.throws(
      () => loadConfig({ WARM_POOL: 'basic=2', WARM_POOL_MAX: 'basic=1' }),
      (e: unknown) => e instanceof ConfigError && /WARM_POOL_MAX for basic \(1\)/.test(e.message),
    );
    assert.throws(() => loadConfig({ WARM_POOL_MAX: 'huge=3' }), /WARM_POOL_MAX must look like/);
    const k = loadConfig({ WARM_POOL: 'basic=2', WARM_POOL_MAX: 'pro=3' }).kubernetes;
    assert.deepEqual(k.warmPoolMax, { basic: 2, pro: 3 });
  });

  it("reads every tenant's launches since a date from Canon Memory, oldest first", async () => {
    const canon = new SqliteCanonStore(':memory:');
    try {
      const make = (id: string, userId: string, tenantId: string, at: string): Session => ({
        sessionId: id,
        userId,
        tenantId,
        tier: 'basic',
        resources: findTier('basic')?.resources as Session['resources'],
        state: 'terminated',
        createdAt: at,
        canonTimestamp: at,
        handshake: '55-45-17',
      });
      for (const s of [
        make('s3', 'cy', 't2', '2026-02-10T09:00:00.000Z'),
        make('s1', 'al', 't1', '2026-01-01T09:00:00.000Z'),
        make('s2', 'bo', 't1', '2026-02-09T09:00:00.000Z'),
      ])
        await canon.createSession({ session: s, runtime: null, lastActivityAt: s.createdAt }, s.userId);
      assert.deepEqual(await canon.listLaunchesSince(new Date('2026-02-01T00:00:00Z')), [
        { userId: 'bo', tenantId: 't1', tier: 'basic', createdAt: '2026-02-09T09:00:00.000Z' },
        { userId: 'cy', tenantId: 't2', tier: 'basic', createdAt: '2026-02-10T09:00:00.000Z' },
      ]);
    } finally {
      await canon.close();
    }
  });

  describe('on the fake Kubernetes cluster', () => {
    let cluster: FakeCluster;
    let runtime: KubernetesRuntime;
    let now = new Date(MONDAY + 3 * HOUR);
    const targets: Array<Partial<Record<string, number>>> = [];
    let planner: WarmPoolPlanner;

    before(async () => {
      cluster = await startFakeCluster();
      const config = loadConfig(cluster.env({ WARM_POOL: '', WARM_POOL_MAX: 'basic=2' })).kubernetes;
      runtime = await KubernetesRuntime.open(config, pino({ level: 'silent' }));
      const history = mornings(2, 4);
      planner = new WarmPoolPlanner({
        launches: async (since) => history.filter((h) => Date.parse(h.createdAt) >= since.getTime()),
        pool: runtime.warmPool,
        logger: pino({ level: 'silent' }),
        options: { leadMs: 30 * 60_000 },
        clock: () => now,
        onPlan: (t) => targets.push(t),
      });
    });
    after(async () => {
      await runtime?.close();
      await cluster?.close();
    });

    const warm = (readyOnly = false) =>
      runtime.pods
        .list()
        .filter(
          (p) => p.labels['v-supercore.n3xus/pool'] === 'warm' && !p.deleting && (!readyOnly || p.ready),
        );

    it('keeps no warm desktop at night, two ready before the 09:00 launches, none again after', async () => {
      await planner.planOnce();
      assert.deepEqual(targets.at(-1), { basic: 0 });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(warm().length, 0, 'nothing predicted: no warm desktop (WARM_POOL is 0)');
      assert.deepEqual(runtime.warmPool.warmPoolState(), { basic: { target: 0, warm: 0 } });

      now = new Date(MONDAY + 8.6 * HOUR); // 08:36, the two users launch at 09:10 and 09:11
      await planner.planOnce();
      assert.deepEqual(targets.at(-1), { basic: 2 });
      await waitFor(() => warm(true).length === 2, 'two warm desktops ready');

      const basic = findTier('basic')?.resources;
      assert.ok(basic);
      const handles: KubernetesRuntimeHandle[] = [];
      for (const user of ['user-0', 'user-1']) {
        const handle = await runtime.start(
          `cccccccc-0000-4000-8000-00000000000${handles.length + 1}`,
          basic,
          {
            tier: 'basic',
            tenantId: 'tenant-w',
            userId: user,
          },
        );
        assert.equal(handle.kind, 'kubernetes');
        handles.push(handle as KubernetesRuntimeHandle);
      }
      assert.ok(
        handles.every((h) => h.podName?.startsWith('vsc-warm-basic-')),
        'both launches were served by warm desktops',
      );
      // Still the busy hour: the pool refills to its target.
      await waitFor(() => warm(true).length === 2, 'the pool refilled');

      now = new Date(MONDAY + 11 * HOUR);
      await planner.planOnce();
      assert.deepEqual(targets.at(-1), { basic: 0 });
      await waitFor(() => warm().length === 0, 'the pool shrank back to its floor');
      for (const h of handles) {
        assert.ok(runtime.pods.get(h.podName ?? ''), 'claimed desktops are never shrunk away');
        await runtime.stop(h);
      }
    });
  });
});
