// A mid-session tier change on the Kubernetes runtime, end to end: the adapter's API, the production runtime
// talking HTTP to the fake API server, pods run by the simulated kubelet as real session agents with real Xvnc
// desktops. The pod is recreated with the new tier's requests and limits on the kept Secret and home volume.
import assert from 'node:assert/strict';
import { readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unpack } from 'msgpackr';
import WebSocket from 'ws';
import type { Session } from '../../../protocol/session.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
  type ServerStreamMessage,
} from '../../../protocol/stream.ts';
import { processState } from '../../../session-agent/proc.ts';
import type { AgentHealth } from '../../../session-agent/protocol.ts';
import type { KubernetesRuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';
import { startFakeCluster, type FakeCluster } from '../../support/fake-kubernetes/fake-cluster.ts';
import type { KubeObject } from '../../support/fake-kubernetes/store.ts';

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };
type PodSpec = {
  containers: Array<{ resources: { requests: Record<string, string>; limits: Record<string, string> } }>;
  volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }>;
};

/** The init message and the first screen update of a session's stream. */
async function firstFrames(t: TestAdapter, sessionId: string, token: string): Promise<ServerStreamMessage[]> {
  const url = `${t.adapter.url.replace('http', 'ws')}/api/v1/sessions/${sessionId}/stream`;
  const ws = new WebSocket(url, [
    STREAM_SUBPROTOCOL,
    BEARER_SUBPROTOCOL_PREFIX + token,
    HANDSHAKE_SUBPROTOCOL,
  ]);
  try {
    return await new Promise<ServerStreamMessage[]>((resolve, reject) => {
      const got: ServerStreamMessage[] = [];
      ws.on('message', (data: Buffer) => {
        got.push(unpack(data) as ServerStreamMessage);
        if (got.length === 2) resolve(got);
      });
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`refused with ${res.statusCode}`)));
      setTimeout(() => reject(new Error('no frames within 15 s')), 15_000).unref();
    });
  } finally {
    ws.close();
  }
}

function assertStreams(frames: ServerStreamMessage[], width: number, height: number): void {
  const [init, update] = frames;
  assert.equal(init?.t, 'init');
  if (init?.t === 'init') assert.deepEqual([init.width, init.height], [width, height]);
  assert.equal(update?.t, 'update');
}

async function waitFor<T>(read: () => T, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('tier change on Kubernetes (fake cluster, real session agent and desktop)', () => {
  let cluster: FakeCluster;
  let t: TestAdapter;
  let token: string;
  let session: Session;
  let homeDir = '';

  const handleOf = async (id: string): Promise<KubernetesRuntimeHandle> => {
    const runtime = (await t.adapter.canon.getSession(id))?.runtime;
    assert.equal(runtime?.kind, 'kubernetes');
    return runtime as KubernetesRuntimeHandle;
  };
  const objects = (
    resource: 'pods' | 'persistentvolumeclaims' | 'secrets',
    sessionId = session.sessionId,
  ): KubeObject[] =>
    cluster.api.store.list(resource, cluster.namespace, `v-supercore.n3xus/session=${sessionId}`);
  const livePods = (sessionId = session.sessionId): KubeObject[] =>
    objects('pods', sessionId).filter((p) => !p.metadata.deletionTimestamp);
  const homeOf = (podName: string): Promise<string> =>
    readlink(`/proc/${cluster.kubelet.containerPid(cluster.namespace, podName)}/cwd`);
  const agentHealth = async (h: KubernetesRuntimeHandle): Promise<AgentHealth> => {
    const res = await fetch(`${h.agentUrl}/v1/health`, {
      headers: { authorization: `Bearer ${h.agentToken}` },
    });
    return (await res.json()) as AgentHealth;
  };
  const changeTier = (id: string, tier: string) =>
    t.api(`/api/v1/sessions/${id}/tier`, { method: 'POST', token, body: { tier } });

  before(async () => {
    // One GPU on the node; phase 3.5 opens GPU tiers; puabo is a founding tenant (early access to GPU).
    cluster = await startFakeCluster({ node: { gpus: 1 } });
    t = await startTestAdapter(cluster.env({ DEPLOYMENT_PHASE: '3.5', LOG_LEVEL: 'warn' }));
    token = await t.login('alice', 'puabo');
  });
  after(async () => {
    await t?.close();
    await cluster?.close();
  });

  it('Active basic → standard: a new pod with the new requests and limits, the same home volume, active and streaming, the old pod gone', async () => {
    const res = await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    session = res.body as Session;
    const before = await handleOf(session.sessionId);
    assert.ok(before.podName);
    homeDir = await homeOf(before.podName);
    await writeFile(join(homeDir, 'notes.txt'), 'kept across the tier change');
    const [pvcBefore] = objects('persistentvolumeclaims');
    assert.ok(pvcBefore);

    const changed = await changeTier(session.sessionId, 'standard');
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual(
      [(changed.body as Session).state, (changed.body as Session).tier],
      ['active', 'standard'],
    );

    const after = await handleOf(session.sessionId);
    assert.equal(after.tier, 'standard');
    assert.ok(after.podName && after.podName !== before.podName, 'a new pod');
    const pods = await waitFor(livePods, (p) => p.length === 1);
    assert.deepEqual(
      pods.map((p) => p.metadata.name),
      [after.podName],
      'only the new pod is left',
    );
    assert.equal(
      cluster.api.store.peek('pods', cluster.namespace, before.podName),
      undefined,
      'the old pod is gone',
    );
    const pod = pods[0];
    assert.ok(pod);
    assert.equal(pod.metadata.labels?.['v-supercore.n3xus/tier'], 'standard');
    assert.deepEqual((pod.spec as PodSpec).containers[0]?.resources, {
      requests: { cpu: '2000m', memory: '4096Mi' },
      limits: { cpu: '2000m', memory: '4096Mi' },
    });
    const claims = (pod.spec as PodSpec).volumes?.flatMap((v) => v.persistentVolumeClaim?.claimName ?? []);
    assert.deepEqual(claims, [pvcBefore.metadata.name], 'the pod mounts the same PVC');
    assert.deepEqual(
      objects('persistentvolumeclaims').map((p) => p.metadata.uid),
      [pvcBefore.metadata.uid],
      'the home volume is the one from before, not a new one',
    );
    assert.equal(objects('secrets').length, 1);
    assert.equal(await homeOf(after.podName), homeDir);
    assert.equal(await readFile(join(homeDir, 'notes.txt'), 'utf8'), 'kept across the tier change');

    const records = await t.adapter.canon.listRecords(session.sessionId);
    assert.deepEqual(
      records.filter((r) => r.action.startsWith('tier.')).map((r) => r.action),
      ['tier.changed', 'tier.applied'],
    );
    assertStreams(await firstFrames(t, session.sessionId, token), 1280, 800);
  });

  it('Paused standard → gpu: the new pod asks for nvidia.com/gpu, and the session stays paused (frozen) until resumed', async () => {
    const paused = await t.api(`/api/v1/sessions/${session.sessionId}/pause`, { method: 'POST', token });
    assert.equal((paused.body as Session).state, 'paused', JSON.stringify(paused.body));
    const before = await handleOf(session.sessionId);

    const changed = await changeTier(session.sessionId, 'gpu');
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual([(changed.body as Session).state, (changed.body as Session).tier], ['paused', 'gpu']);
    const after = await handleOf(session.sessionId);
    assert.ok(after.podName && after.podName !== before.podName);
    const [pod] = await waitFor(livePods, (p) => p.length === 1);
    assert.equal(pod?.metadata.name, after.podName);
    assert.deepEqual((pod?.spec as PodSpec).containers[0]?.resources, {
      requests: { cpu: '8000m', memory: '32768Mi', 'nvidia.com/gpu': '1' },
      limits: { cpu: '8000m', memory: '32768Mi', 'nvidia.com/gpu': '1' },
    });
    assert.ok(pod?.metadata.annotations?.['v-supercore.n3xus/paused-at'], 'annotated as paused');
    const health = await agentHealth(after);
    assert.equal(health.state, 'paused');
    assert.equal(await processState(health.xvncPid), 'T', 'the new desktop is frozen');
    assert.equal(
      await readFile(join(await homeOf(after.podName), 'notes.txt'), 'utf8'),
      'kept across the tier change',
    );

    const resumed = await t.api(`/api/v1/sessions/${session.sessionId}/resume`, { method: 'POST', token });
    assert.equal((resumed.body as Session).state, 'active', JSON.stringify(resumed.body));
    assertStreams(await firstFrames(t, session.sessionId, token), 1920, 1080);
  });

  it('a refused new pod (403 exceeded quota) ends the session in failed with the reason, everything released', async () => {
    const quota = cluster.api.store.create('resourcequotas', cluster.namespace, {
      metadata: { name: 'tier-change-quota' },
      spec: { hard: { 'requests.cpu': '3000m' } },
    });
    try {
      const res = await changeTier(session.sessionId, 'pro');
      assert.equal(res.status, 500, JSON.stringify(res.body));
      const { error } = res.body as ErrorBody;
      assert.equal(error.code, 'RUNTIME_FAILED');
      assert.match(error.message, /could not change its tier/);
      assert.match(error.message, /exceeded quota: tier-change-quota/);
      const failed = (await t.api(`/api/v1/sessions/${session.sessionId}`, { token })).body as Session;
      assert.equal(failed.state, 'failed');
      assert.match(failed.failureReason ?? '', /resource quota is exhausted/);
      const left = await waitFor(
        () => [...objects('pods'), ...objects('persistentvolumeclaims'), ...objects('secrets')],
        (o) => o.length === 0,
      );
      assert.deepEqual(
        left.map((o) => `${o.kind}/${o.metadata.name}`),
        [],
        'pod, home volume and secret released',
      );
      const allocations = await t.adapter.canon.listAllocations({ userId: 'alice', tenantId: 'puabo' });
      assert.deepEqual(
        allocations.filter((a) => a.releasedAt === null),
        [],
        'no resources still allocated to the user',
      );
      const actions = (await t.adapter.canon.listRecords(session.sessionId)).map((r) => r.action);
      // The session had run, so its failure also closes its usage (recorded after the failure itself).
      assert.deepEqual(actions.slice(-2), ['tier.failed', 'usage.recorded']);
    } finally {
      cluster.api.store.delete('resourcequotas', cluster.namespace, quota.metadata.name ?? '');
    }
  });
});
