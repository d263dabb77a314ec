import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Session } from '../../../protocol/session.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';
import { startFakeCluster, type FakeCluster } from '../../support/fake-kubernetes/fake-cluster.ts';
import type { KubeObject } from '../../support/fake-kubernetes/store.ts';

const AN_HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * An orchestrator restart on a cluster that changed while it was away: sessions whose pod vanished are
 * marked (hibernated when their disk is left, failed when nothing is), and pods, PVCs and Secrets labelled as
 * ours that no live session accounts for are deleted — but not a warm-pool desktop, nor objects young enough
 * to belong to a launch another replica is making.
 */
describe('reconcile after a restart (fake cluster)', () => {
  let cluster: FakeCluster;
  let t: TestAdapter;
  let token: string;

  const bySession = (resource: 'pods' | 'persistentvolumeclaims' | 'secrets', id: string): KubeObject[] =>
    cluster.api.store.list(resource, cluster.namespace, `v-supercore.n3xus/session=${id}`);

  /** What a launch leaves when its adapter dies before recording it: Secret, PVC and pod, labelled as ours. */
  function leftover(sessionId: string, createdAt?: string): void {
    const labels = {
      app: 'v-supercore',
      'app.kubernetes.io/component': 'session',
      'v-supercore.n3xus/session': sessionId,
      'v-supercore.n3xus/pool': 'claimed',
    };
    const name = `vsc-${sessionId}`;
    const store = cluster.api.store;
    const ns = cluster.namespace;
    const secret = store.create('secrets', ns, { metadata: { name, labels }, data: {} });
    const owner = [{ apiVersion: 'v1', kind: 'Secret', name, uid: secret.metadata.uid ?? '' }];
    store.create('persistentvolumeclaims', ns, {
      metadata: { name, labels, ownerReferences: owner },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    store.create('pods', ns, {
      metadata: { name: `${name}-x`, labels, ownerReferences: owner },
      spec: { containers: [{ name: 'desktop', image: 'registry.invalid/not-started:1' }] },
    });
    if (createdAt) {
      for (const [r, n] of [
        ['secrets', name],
        ['persistentvolumeclaims', name],
        ['pods', `${name}-x`],
      ] as const) {
        store.update(r, ns, n, (o) => (o.metadata.creationTimestamp = createdAt));
      }
    }
  }

  /**
   * A warm-pool desktop of `parts`, made an hour ago: all three is a ready one; without the pod, a fill whose
   * replica died half-way.
   */
  function warmDesktop(base: string, parts: ReadonlyArray<'secret' | 'pvc' | 'pod'>): void {
    const labels = {
      app: 'v-supercore',
      'app.kubernetes.io/component': 'session',
      'v-supercore.n3xus/tier': 'basic',
      'v-supercore.n3xus/pool': 'warm',
    };
    const store = cluster.api.store;
    const ns = cluster.namespace;
    const made: Array<['secrets' | 'persistentvolumeclaims' | 'pods', string]> = [];
    let uid = 'none';
    if (parts.includes('secret')) {
      uid = store.create('secrets', ns, { metadata: { name: base, labels }, data: {} }).metadata.uid ?? '';
      made.push(['secrets', base]);
    }
    const owner = [{ apiVersion: 'v1', kind: 'Secret', name: base, uid }];
    if (parts.includes('pvc')) {
      store.create('persistentvolumeclaims', ns, {
        metadata: { name: base, labels, ownerReferences: owner },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      });
      made.push(['persistentvolumeclaims', base]);
    }
    if (parts.includes('pod')) {
      store.create('pods', ns, {
        metadata: {
          name: `${base}-x`,
          labels,
          annotations: { 'v-supercore.n3xus/objects': base },
          ownerReferences: owner,
        },
        spec: { containers: [{ name: 'desktop', image: 'registry.invalid/not-started:1' }] },
      });
      made.push(['pods', `${base}-x`]);
    }
    for (const [r, n] of made) store.update(r, ns, n, (o) => (o.metadata.creationTimestamp = AN_HOUR_AGO));
  }

  before(async () => {
    cluster = await startFakeCluster();
    t = await startTestAdapter(cluster.env({ LOG_LEVEL: 'silent' }));
    token = await t.login('carol', 'tenant-c');
  });
  after(async () => {
    await t?.close();
    await cluster?.close();
  });

  it('marks vanished pods, keeps live and young objects, and deletes orphaned pods, PVCs and Secrets', async () => {
    const launch = async () =>
      (await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } })).body as Session;
    const podLost = await launch();
    const allLost = await launch();
    assert.equal(podLost.state, 'active');
    assert.equal(allLost.state, 'active');

    await t.adapter.close();
    // While the orchestrator is away: one pod is evicted, another session loses pod and disk,
    const store = cluster.api.store;
    const ns = cluster.namespace;
    for (const pod of bySession('pods', podLost.sessionId))
      store.delete('pods', ns, pod.metadata.name ?? '', { gracePeriodSeconds: 0 });
    for (const pod of bySession('pods', allLost.sessionId))
      store.delete('pods', ns, pod.metadata.name ?? '', { gracePeriodSeconds: 0 });
    for (const pvc of bySession('persistentvolumeclaims', allLost.sessionId))
      store.delete('persistentvolumeclaims', ns, pvc.metadata.name ?? '');
    // and leftovers: an old launch nobody recorded, a launch in flight on another replica, a warm desktop.
    const orphan = randomUUID();
    const young = randomUUID();
    leftover(orphan, AN_HOUR_AGO);
    leftover(young);
    store.create('secrets', ns, {
      metadata: {
        name: 'vsc-warm-basic-keepme',
        labels: {
          app: 'v-supercore',
          'app.kubernetes.io/component': 'session',
          'v-supercore.n3xus/pool': 'warm',
        },
      },
      data: {},
    });
    // and warm desktops an hour old: one ready, two whose filling replica died before their pod.
    warmDesktop('vsc-warm-basic-7', ['secret', 'pvc', 'pod']);
    warmDesktop('vsc-warm-basic-8', ['secret', 'pvc']);
    warmDesktop('vsc-warm-basic-9', ['secret']);
    await t.restart();

    const list = ((await t.api('/api/v1/sessions', { token })).body as { sessions: Session[] }).sessions;
    const byId = new Map(list.map((s) => [s.sessionId, s]));
    assert.equal(byId.get(podLost.sessionId)?.state, 'hibernated', 'its disk is left: resumable');
    assert.equal(byId.get(allLost.sessionId)?.state, 'failed');
    assert.match(byId.get(allLost.sessionId)?.failureReason ?? '', /ended while the adapter was down/);

    assert.deepEqual(
      ['pods', 'persistentvolumeclaims', 'secrets'].map((r) => bySession(r as 'pods', orphan).length),
      [0, 0, 0],
      'the orphaned pod, PVC and Secret are deleted',
    );
    assert.deepEqual(
      ['pods', 'persistentvolumeclaims', 'secrets'].map((r) => bySession(r as 'pods', young).length),
      [1, 1, 1],
      'a launch younger than the grace period is left alone',
    );
    assert.ok(store.peek('secrets', ns, 'vsc-warm-basic-keepme'), 'warm-pool desktops are not orphans');
    assert.ok(store.peek('pods', ns, 'vsc-warm-basic-7-x'), 'nor is a ready warm desktop, however old');
    assert.ok(store.peek('persistentvolumeclaims', ns, 'vsc-warm-basic-7'));
    assert.ok(store.peek('secrets', ns, 'vsc-warm-basic-7'));
    for (const base of ['vsc-warm-basic-8', 'vsc-warm-basic-9']) {
      assert.equal(
        store.peek('persistentvolumeclaims', ns, base),
        undefined,
        `${base}: half a fill, released`,
      );
      assert.equal(store.peek('secrets', ns, base), undefined, `${base}: half a fill, released`);
    }
    assert.equal(
      bySession('secrets', allLost.sessionId).length,
      0,
      'the failed session’s Secret is released',
    );
    assert.equal(bySession('persistentvolumeclaims', podLost.sessionId).length, 1);

    const resumed = await t.api(`/api/v1/sessions/${podLost.sessionId}/resume`, { method: 'POST', token });
    assert.equal((resumed.body as Session).state, 'active', JSON.stringify(resumed.body));
    assert.equal(bySession('pods', podLost.sessionId).length, 1);
    const ended = await t.api(`/api/v1/sessions/${podLost.sessionId}`, { method: 'DELETE', token });
    assert.equal((ended.body as Session).state, 'terminated');
  });
});
