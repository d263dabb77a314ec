import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Session } from '../../../protocol/session.ts';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { KubernetesRuntime } from '../../../backend-adapter/runtime/kubernetes/kubernetes-runtime.ts';
import { RuntimeStartError } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { startTestAdapter } from '../../support/adapter-fixture.ts';
import { startFakeCluster, type FakeCluster } from '../../support/fake-kubernetes/fake-cluster.ts';

const quiet = pino({ level: 'silent' });

/** Opens the production runtime on the fake cluster with extra environment. */
async function runtimeOn(cluster: FakeCluster, env: NodeJS.ProcessEnv = {}): Promise<KubernetesRuntime> {
  return KubernetesRuntime.open(loadConfig(cluster.env(env)).kubernetes, quiet);
}

let n = 0;
const sessionId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;

/** Launches and expects the launch to fail with a reason matching `reason`, leaving nothing of the session behind. */
async function expectLaunchFailure(
  cluster: FakeCluster,
  runtime: KubernetesRuntime,
  tier: 'basic' | 'standard' | 'gpu',
  reason: RegExp,
): Promise<string> {
  const id = sessionId();
  const resources = findTier(tier)?.resources;
  assert.ok(resources);
  let message = '';
  await assert.rejects(runtime.start(id, resources, { tier, tenantId: 't', userId: 'u' }), (e: unknown) => {
    assert.ok(e instanceof RuntimeStartError, String(e));
    message = e.reason;
    assert.match(e.reason, reason);
    return true;
  });
  const selector = `v-supercore.n3xus/session=${id}`;
  const left = (['pods', 'persistentvolumeclaims', 'secrets'] as const).flatMap((r) =>
    cluster.api.store.list(r, cluster.namespace, selector).map((o) => `${r}/${o.metadata.name}`),
  );
  // A pod being deleted gracefully goes a moment later.
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left.splice(
      0,
      left.length,
      ...(['pods', 'persistentvolumeclaims', 'secrets'] as const).flatMap((r) =>
        cluster.api.store.list(r, cluster.namespace, selector).map((o) => `${r}/${o.metadata.name}`),
      ),
    );
  }
  assert.deepEqual(left, [], 'everything the launch created is released');
  return message;
}

describe('Kubernetes failures become clear session errors, and release what was created', () => {
  let cluster: FakeCluster;
  before(async () => {
    cluster = await startFakeCluster({ node: { gpus: 0 } });
  });
  after(() => cluster.close());

  it('exceeded quota (403 with the API server’s message)', async () => {
    const quota = cluster.api.store.create('resourcequotas', cluster.namespace, {
      metadata: { name: 'tight-quota' },
      spec: { hard: { 'requests.cpu': '1500m', pods: '50' } },
    });
    const runtime = await runtimeOn(cluster);
    try {
      const reason = await expectLaunchFailure(cluster, runtime, 'standard', /resource quota is exhausted/);
      assert.match(
        reason,
        /exceeded quota: tight-quota, requested: requests\.cpu=2, used: requests\.cpu=0, limited: requests\.cpu=1500m/,
      );
    } finally {
      await runtime.close();
      cluster.api.store.delete('resourcequotas', cluster.namespace, quota.metadata.name ?? '');
    }
  });

  it('invalid specification (422)', async () => {
    const runtime = await runtimeOn(cluster, { SESSION_STORAGE_CLASS: 'Not_A_Valid_Class' });
    try {
      const reason = await expectLaunchFailure(
        cluster,
        runtime,
        'basic',
        /refused the desktop's specification/,
      );
      assert.match(
        reason,
        /creating the home volume: PersistentVolumeClaim ".*" is invalid: spec\.storageClassName/,
      );
    } finally {
      await runtime.close();
    }
  });

  it('image pull failure', async () => {
    const runtime = await runtimeOn(cluster, {
      SESSION_IMAGE: 'registry.invalid/v-supercore-session:missing',
    });
    try {
      const reason = await expectLaunchFailure(cluster, runtime, 'basic', /image could not be pulled/);
      assert.match(reason, /ErrImagePull|ImagePullBackOff/);
      assert.match(reason, /last event: Failed: Failed to pull image "registry\.invalid/);
    } finally {
      await runtime.close();
    }
  });

  it('OOMKilled while starting', async () => {
    const runtime = await runtimeOn(cluster);
    try {
      cluster.kubelet.oomKillNextStart = true;
      await expectLaunchFailure(
        cluster,
        runtime,
        'basic',
        /ran out of memory \(OOMKilled at the tier's 2048 MiB limit\)/,
      );
    } finally {
      cluster.kubelet.oomKillNextStart = false;
      await runtime.close();
    }
  });

  it('OOMKilled just as it became ready: that reason, not the agent’s silence', async () => {
    const runtime = await runtimeOn(cluster);
    try {
      cluster.kubelet.oomKillWhenReady = true;
      const reason = await expectLaunchFailure(cluster, runtime, 'basic', /ran out of memory \(OOMKilled/);
      assert.match(reason, /last event: OOMKilling/);
    } finally {
      cluster.kubelet.oomKillWhenReady = false;
      await runtime.close();
    }
  });

  it('unschedulable after a deadline (a GPU tier on a cluster without GPUs)', async () => {
    const runtime = await runtimeOn(cluster, { K8S_UNSCHEDULABLE_TIMEOUT_MS: '300' });
    try {
      const started = Date.now();
      const reason = await expectLaunchFailure(cluster, runtime, 'gpu', /no node can run this desktop/);
      assert.ok(Date.now() - started >= 300, 'waited for the deadline');
      assert.match(reason, /Insufficient nvidia\.com\/gpu/);
      assert.match(reason, /last event: FailedScheduling/);
    } finally {
      await runtime.close();
    }
  });

  it('a launch through the API ends in failed with the reason (quota), and the user can see why', async () => {
    const quota = cluster.api.store.create('resourcequotas', cluster.namespace, {
      metadata: { name: 'no-more-pods' },
      spec: { hard: { pods: '0' } },
    });
    const t = await startTestAdapter(cluster.env({ LOG_LEVEL: 'silent' }));
    try {
      const token = await t.login('bob', 'tenant-b');
      const res = await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } });
      assert.equal(res.status, 500);
      const { error } = res.body as {
        error: { code: string; message: string; details: { sessionId: string } };
      };
      assert.equal(error.code, 'RUNTIME_FAILED');
      assert.match(error.message, /exceeded quota: no-more-pods/);
      const session = (await t.api(`/api/v1/sessions/${error.details.sessionId}`, { token })).body as Session;
      assert.equal(session.state, 'failed');
      assert.match(session.failureReason ?? '', /resource quota is exhausted/);
      assert.equal(cluster.api.store.list('secrets', cluster.namespace).length, 0);
    } finally {
      await t.close();
      cluster.api.store.delete('resourcequotas', cluster.namespace, quota.metadata.name ?? '');
    }
  });
});
