import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { KubernetesRuntime } from '../../../backend-adapter/runtime/kubernetes/kubernetes-runtime.ts';
import type { KubernetesRuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { startFakeCluster, type FakeCluster } from '../../support/fake-kubernetes/fake-cluster.ts';
import type { KubeObject } from '../../support/fake-kubernetes/store.ts';

const WARM = 'v-supercore.n3xus/pool=warm,v-supercore.n3xus/tier=basic';
const isReady = (pod: KubeObject) =>
  (
    (pod.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []
  ).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * Two orchestrator replicas (two KubernetesRuntime instances) on one cluster share one warm pool per tier: its
 * size is a figure for the cluster, so replicas that refill at the same moment make exactly the missing
 * desktops between them (not each), and two that claim the last warm desktop at once do not both get it.
 */
describe('warm pool shared by two orchestrator replicas (fake cluster)', () => {
  let cluster: FakeCluster;
  let a: KubernetesRuntime;
  let b: KubernetesRuntime;
  const handles: Array<{ runtime: KubernetesRuntime; handle: KubernetesRuntimeHandle }> = [];
  const basic = findTier('basic')?.resources;

  const store = () => cluster.api.store;
  const warmPods = () =>
    store()
      .list('pods', cluster.namespace, WARM)
      .filter((p) => !p.metadata.deletionTimestamp);
  const podsCreated = () =>
    cluster.api.requests.filter((r) => r.resource === 'pods' && r.verb === 'create' && r.status === 201)
      .length;

  /** Waits until the cluster holds exactly `n` ready warm desktops, both replicas agree, and it stays so. */
  async function settlesAt(n: number, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const agreed = () => {
      const pods = store().list('pods', cluster.namespace, WARM);
      return (
        pods.length === n &&
        pods.every((p) => isReady(p) && !p.metadata.deletionTimestamp) &&
        store().list('persistentvolumeclaims', cluster.namespace, WARM).length === n &&
        store().list('secrets', cluster.namespace, WARM).length === n &&
        a.warmPool.warmPoolState().basic?.warm === n &&
        b.warmPool.warmPoolState().basic?.warm === n
      );
    };
    for (;;) {
      if (agreed()) {
        // Stable: no replica is still about to add or remove one.
        await new Promise((r) => setTimeout(r, 1500));
        if (agreed()) return;
      }
      if (Date.now() > deadline) {
        const names = store()
          .list('pods', cluster.namespace, WARM)
          .map((p) => `${p.metadata.name}${isReady(p) ? '' : ' (not ready)'}`);
        throw new Error(`the pool did not settle at ${n}: ${JSON.stringify(names)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    cluster = await startFakeCluster();
    // No fixed floor: the targets below are set on both replicas alike, as their launch predictions would be.
    const config = loadConfig(cluster.env({ WARM_POOL: 'basic=0', WARM_POOL_MAX: 'basic=4' })).kubernetes;
    const logger = pino({ level: 'silent' });
    [a, b] = await Promise.all([
      KubernetesRuntime.open(config, logger),
      KubernetesRuntime.open(config, logger),
    ]);
  });
  after(async () => {
    for (const { runtime, handle } of handles) await runtime.stop(handle).catch(() => undefined);
    await Promise.all([a?.close(), b?.close()]);
    await cluster?.close();
  });

  it('two replicas refilling at the same moment make exactly the target between them', async () => {
    a.warmPool.setWarmTargets({ basic: 2 });
    b.warmPool.setWarmTargets({ basic: 2 });
    await settlesAt(2);
    assert.equal(podsCreated(), 2, 'two desktops were started in all, not two per replica');
    const turnedAway = cluster.api.requests.filter(
      (r) => r.resource === 'secrets' && r.verb === 'create' && r.status === 409,
    );
    assert.ok(turnedAway.length >= 1, 'the API server turned a replica’s duplicate away (409 AlreadyExists)');
    assert.deepEqual(
      warmPods()
        .map((p) => p.metadata.annotations?.['v-supercore.n3xus/objects'])
        .sort(),
      ['vsc-warm-basic-0', 'vsc-warm-basic-1'],
    );
  });

  it('a desktop claimed on one replica is replaced once, not by each replica', async () => {
    assert.ok(basic);
    const before = podsCreated();
    const handle = (await a.start('dddddddd-0000-4000-8000-000000000001', basic, {
      tier: 'basic',
      tenantId: 'tenant-w',
      userId: 'wes',
    })) as KubernetesRuntimeHandle;
    handles.push({ runtime: a, handle });
    assert.match(handle.podName ?? '', /^vsc-warm-basic-/, 'claimed from the pool');
    await settlesAt(2);
    assert.equal(podsCreated() - before, 1, 'one replacement in all');
  });

  it('two replicas claiming the last warm desktop at once: one gets it, the other launches cold', async () => {
    assert.ok(basic);
    a.warmPool.setWarmTargets({ basic: 1 });
    b.warmPool.setWarmTargets({ basic: 1 });
    await settlesAt(1); // both shrink at once, and agree on which desktop goes
    const [last] = warmPods();
    assert.ok(last?.metadata.name);
    const context = (userId: string) => ({ tier: 'basic' as const, tenantId: 'tenant-w', userId });
    const ids = ['dddddddd-0000-4000-8000-000000000002', 'dddddddd-0000-4000-8000-000000000003'];
    const [onA, onB] = (await Promise.all([
      a.start(ids[0] ?? '', basic, context('ann')),
      b.start(ids[1] ?? '', basic, context('bob')),
    ])) as KubernetesRuntimeHandle[];
    assert.ok(onA && onB);
    handles.push({ runtime: a, handle: onA }, { runtime: b, handle: onB });
    assert.notEqual(onA.podName, onB.podName, 'never the same desktop for two sessions');
    const winners = [onA, onB].filter((h) => h.podName === last.metadata.name);
    assert.equal(winners.length, 1, 'exactly one session got the warm desktop');
    const loser = winners[0] === onA ? onB : onA;
    assert.doesNotMatch(loser.podName ?? '', /^vsc-warm-/, 'the other launched a desktop of its own');
    for (const [h, id] of [
      [onA, ids[0]],
      [onB, ids[1]],
    ] as const) {
      const pod = store().peek('pods', cluster.namespace, h.podName ?? '');
      assert.equal(
        pod?.metadata.labels?.['v-supercore.n3xus/session'],
        id,
        'each pod is labelled with its session',
      );
      assert.notEqual(h.agentToken, '', 'and answers its own session’s token');
    }
    assert.notEqual(onA.agentToken, onB.agentToken);
    await settlesAt(1);
  });
});

/**
 * A replica that stopped between creating a warm desktop's Secret and its volume: the name it took counts as
 * on its way for the launch deadline (another replica does not make a second desktop meanwhile), then its
 * Secret is deleted and the pool is filled under the next name.
 */
describe('warm pool: a name another replica took and never filled (fake cluster)', () => {
  let cluster: FakeCluster;
  let runtime: KubernetesRuntime;

  before(async () => {
    cluster = await startFakeCluster();
  });
  after(async () => {
    await runtime?.close();
    await cluster?.close();
  });

  it('waits for it for the launch deadline, then deletes its Secret and fills the pool under the next name', async () => {
    const labels = {
      app: 'v-supercore',
      'app.kubernetes.io/component': 'session',
      'v-supercore.n3xus/tier': 'basic',
      'v-supercore.n3xus/pool': 'warm',
    };
    cluster.api.store.create('secrets', cluster.namespace, {
      metadata: { name: 'vsc-warm-basic-0', labels },
      data: {},
    });
    const config = loadConfig(cluster.env({ WARM_POOL: 'basic=1', K8S_START_TIMEOUT_MS: '4000' })).kubernetes;
    const opened = Date.now();
    runtime = await KubernetesRuntime.open(config, pino({ level: 'silent' }));
    const created = () =>
      cluster.api.requests.filter((r) => r.resource === 'pods' && r.verb === 'create' && r.status === 201);
    const deadline = Date.now() + 60_000;
    while (created().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const waited = Date.now() - opened;
    assert.equal(created().length, 1);
    assert.ok(waited >= 4000, `no second desktop while the taken one may still come (${waited} ms)`);
    assert.ok(
      cluster.api.requests.some((r) => r.resource === 'secrets' && r.verb === 'create' && r.status === 409),
      'the taken name was tried first',
    );
    while (
      !(cluster.api.store.list('pods', cluster.namespace, WARM).filter(isReady).length === 1) &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 50));
    const [pod] = cluster.api.store.list('pods', cluster.namespace, WARM);
    assert.equal(pod?.metadata.annotations?.['v-supercore.n3xus/objects'], 'vsc-warm-basic-1');
    assert.equal(cluster.api.store.peek('secrets', cluster.namespace, 'vsc-warm-basic-0'), undefined);
    assert.deepEqual(
      cluster.api.store.list('secrets', cluster.namespace, WARM).map((s) => s.metadata.name),
      ['vsc-warm-basic-1'],
    );
  });
});
