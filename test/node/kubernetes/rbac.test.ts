import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { KubernetesRuntime } from '../../../backend-adapter/runtime/kubernetes/kubernetes-runtime.ts';
import type { KubernetesRuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { startFakeCluster, type FakeCluster } from '../../support/fake-kubernetes/fake-cluster.ts';
import { readManifests } from '../../support/kustomize-lite.ts';

const RBAC = fileURLToPath(new URL('../../../manifest/kubernetes/base/rbac.yaml', import.meta.url));

async function waitFor(ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Least privilege: every code path of the Kubernetes runtime (informers, warm pool fill and claim, launch,
 * pause, hibernate, resume, stop with retention, a failed launch, orphan reclaim) runs against the fake API
 * server, which records each request; the Role must grant exactly the verbs recorded, per resource.
 */
describe('RBAC: the Role grants exactly what the Kubernetes runtime calls', () => {
  let cluster: FakeCluster;
  let runtime: KubernetesRuntime;

  before(async () => {
    cluster = await startFakeCluster();
    const config = loadConfig(cluster.env({ WARM_POOL: 'basic=1', PVC_RETENTION: 'retain' })).kubernetes;
    runtime = await KubernetesRuntime.open(config, pino({ level: 'silent' }));
  });
  after(async () => {
    await runtime?.close();
    await cluster?.close();
  });

  it('runs every path of the runtime, and the recorded verbs equal the Role’s rules', async () => {
    const basic = findTier('basic')?.resources;
    assert.ok(basic);
    const ready = () =>
      runtime.pods.list().filter((p) => p.labels['v-supercore.n3xus/pool'] === 'warm' && p.ready);
    await waitFor(() => ready().length === 1);
    const context = { tier: 'basic' as const, tenantId: 'tenant-r', userId: 'rita' };
    const handle = (await runtime.start(
      'aaaaaaaa-0000-4000-8000-000000000001',
      basic,
      context,
    )) as KubernetesRuntimeHandle;
    assert.ok(handle.podName?.startsWith('vsc-warm-basic-'), 'claimed from the warm pool');
    await runtime.pause(handle);
    const hibernated = await runtime.hibernate(handle);
    const woke = await runtime.wake(hibernated);
    await runtime.stop(woke);
    cluster.kubelet.oomKillNextStart = true;
    await assert.rejects(runtime.start('aaaaaaaa-0000-4000-8000-000000000002', basic), /OOMKilled/);
    await runtime.reclaimOrphans(new Set());
    await waitFor(() => ready().length === 1); // the pool refilled itself

    const used = new Map<string, Set<string>>();
    for (const r of cluster.api.requests) {
      if (!used.has(r.resource)) used.set(r.resource, new Set());
      used.get(r.resource)?.add(r.verb);
    }
    const role = readManifests(RBAC).find((o) => o.kind === 'Role') as unknown as {
      rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
    };
    const granted = new Map<string, Set<string>>();
    for (const rule of role.rules) {
      assert.deepEqual(rule.apiGroups, [''], 'core API group only');
      for (const resource of rule.resources) granted.set(resource, new Set(rule.verbs));
    }
    const asObject = (m: Map<string, Set<string>>) =>
      Object.fromEntries(
        [...m].map(([r, v]) => [r, [...v].sort()]).sort(([a], [b]) => String(a).localeCompare(String(b))),
      );
    assert.deepEqual(asObject(used), asObject(granted));
    // The retained volume stays, without an owner; nothing else of the session does.
    assert.equal(
      cluster.api.store.list('persistentvolumeclaims', cluster.namespace, 'v-supercore.n3xus/retained=true')
        .length,
      1,
    );
  });

  it('the Role is bound to the orchestrator’s service account only, in the namespace; the gateway gets no token', () => {
    const objects = readManifests(join(RBAC));
    const binding = objects.find((o) => o.kind === 'RoleBinding') as unknown as {
      roleRef: { kind: string; name: string };
      subjects: Array<{ kind: string; name: string; namespace: string }>;
    };
    assert.equal(binding.roleRef.kind, 'Role');
    assert.deepEqual(
      binding.subjects.map((s) => `${s.kind}/${s.namespace}/${s.name}`),
      ['ServiceAccount/v-supercore/v-supercore-orchestrator'],
    );
    const gateway = objects.find(
      (o) => o.kind === 'ServiceAccount' && o.metadata.name === 'v-stream-gateway',
    );
    assert.equal(gateway?.automountServiceAccountToken, false);
    assert.ok(!objects.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'));
  });
});
