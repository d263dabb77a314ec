import assert from 'node:assert/strict';
import { readlink, writeFile, readFile } from 'node:fs/promises';
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

/** The first two stream messages of a session (init, then the first screen update). */
async function firstFrames(
  adapter: TestAdapter,
  sessionId: string,
  token: string,
): Promise<ServerStreamMessage[]> {
  const url = `${adapter.adapter.url.replace('http', 'ws')}/api/v1/sessions/${sessionId}/stream`;
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

async function waitFor<T>(read: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function assertCoversScreen(frames: ServerStreamMessage[], width: number, height: number): void {
  const [init, update] = frames;
  assert.equal(init?.t, 'init');
  if (init?.t === 'init') assert.deepEqual([init.width, init.height], [width, height]);
  assert.equal(update?.t, 'update');
  if (update?.t === 'update') {
    const area = update.rects.reduce((a, r) => a + r.w * r.h, 0);
    assert.ok(area >= width * height, `the first update covers ${area} pixels`);
  }
}

/**
 * A session through the Kubernetes runtime on the fake cluster, end to end: the adapter's API, the production
 * runtime talking HTTP to the fake API server, pods run by the simulated kubelet as real session agents with
 * real Xvnc desktops, streamed through the gateway.
 */
describe('a session on Kubernetes (fake cluster, real session agent and desktop)', () => {
  let cluster: FakeCluster;
  let t: TestAdapter;
  let token: string;
  let session: Session;
  let handle: KubernetesRuntimeHandle;
  let homeDir = '';

  const handleOf = async (id: string): Promise<KubernetesRuntimeHandle> => {
    const runtime = (await t.adapter.canon.getSession(id))?.runtime;
    assert.equal(runtime?.kind, 'kubernetes');
    return runtime as KubernetesRuntimeHandle;
  };
  const agentHealth = async (h: KubernetesRuntimeHandle): Promise<AgentHealth> => {
    const res = await fetch(`${h.agentUrl}/v1/health`, {
      headers: { authorization: `Bearer ${h.agentToken}` },
    });
    return (await res.json()) as AgentHealth;
  };
  const objects = (resource: 'pods' | 'persistentvolumeclaims' | 'secrets'): KubeObject[] =>
    cluster.api.store.list(resource, cluster.namespace, `v-supercore.n3xus/session=${session.sessionId}`);

  before(async () => {
    cluster = await startFakeCluster();
    t = await startTestAdapter(
      cluster.env({ HIBERNATE_AFTER_MS: '1500', TIMEOUT_CHECK_INTERVAL_MS: '200', LOG_LEVEL: 'warn' }),
    );
    token = await t.login('alice', 'tenant-a');
  });
  after(async () => {
    await t?.close();
    await cluster?.close();
  });

  it('launches: Secret, PVC and pod with the tier’s resources, non-root, owned by the Secret; the desktop streams', async () => {
    const res = await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    session = res.body as Session;
    assert.equal(session.state, 'active');
    handle = await handleOf(session.sessionId);
    assert.match(handle.host, /^127\.\d+\.\d+\.\d+$/, 'the gateway reaches the pod on its IP');
    assert.notEqual(handle.host, '127.0.0.1');
    assert.equal(handle.port, 5900);

    const [pod] = objects('pods');
    const [pvc] = objects('persistentvolumeclaims');
    const [secret] = objects('secrets');
    assert.ok(pod && pvc && secret, 'one pod, one PVC, one Secret');
    const labels = pod.metadata.labels ?? {};
    assert.equal(labels.app, 'v-supercore');
    assert.equal(labels['v-supercore.n3xus/tenant'], 'tenant-a');
    assert.equal(labels['v-supercore.n3xus/tier'], 'basic');
    for (const o of [pod, pvc]) assert.equal(o.metadata.ownerReferences?.[0]?.uid, secret.metadata.uid);
    const spec = pod.spec as {
      securityContext: { runAsNonRoot: boolean; runAsUser: number };
      containers: Array<{
        resources: { requests: Record<string, string>; limits: Record<string, string> };
        securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
        env: Array<{ name: string; value?: string }>;
      }>;
    };
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.ok(spec.securityContext.runAsUser > 0);
    const container = spec.containers[0];
    assert.deepEqual(container?.resources, {
      requests: { cpu: '1000m', memory: '2048Mi' },
      limits: { cpu: '1000m', memory: '2048Mi' },
    });
    assert.equal(container?.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container?.securityContext.allowPrivilegeEscalation, false);
    assert.ok(
      !JSON.stringify(container?.env).includes(handle.password),
      'secrets come from the Secret, not the spec',
    );
    assert.equal(
      (pvc.spec as { resources: { requests: { storage: string } } }).resources.requests.storage,
      '10Gi',
    );
    assert.equal((pvc.spec as { storageClassName: string }).storageClassName, 'v-supercore-encrypted');

    assertCoversScreen(await firstFrames(t, session.sessionId, token), 1280, 720);
  });

  it('pauses through the agent: the desktop’s processes are frozen with their memory, the pod stays', async () => {
    const res = await t.api(`/api/v1/sessions/${session.sessionId}/pause`, { method: 'POST', token });
    assert.equal((res.body as Session).state, 'paused', JSON.stringify(res.body));
    const health = await agentHealth(handle);
    assert.equal(health.state, 'paused');
    assert.equal(await processState(health.xvncPid), 'T');
    assert.equal(objects('pods').length, 1);
    assert.ok(objects('pods')[0]?.metadata.annotations?.['v-supercore.n3xus/paused-at']);
  });

  it('hibernates after the configured time paused: pod deleted, home volume kept, shown as hibernated', async () => {
    // Something in the user's home, written to the volume behind the PVC.
    const cwd = await readlink(
      `/proc/${cluster.kubelet.containerPid(cluster.namespace, objects('pods')[0]?.metadata.name ?? '')}/cwd`,
    );
    await writeFile(join(cwd, 'notes.txt'), 'kept across hibernation');
    const hibernated = await waitFor(
      async () => (await t.api(`/api/v1/sessions/${session.sessionId}`, { token })).body as Session,
      (s) => s.state === 'hibernated',
    );
    assert.equal(hibernated.state, 'hibernated');
    await waitFor(
      () => objects('pods').length,
      (n) => n === 0,
    );
    assert.equal(objects('pods').length, 0, 'the pod is gone (memory not kept)');
    assert.equal(objects('persistentvolumeclaims').length, 1, 'the disk is kept');
    assert.equal(objects('secrets').length, 1);
    await assert.rejects(firstFrames(t, session.sessionId, token), /refused with 409/, 'nothing to stream');
    handle = await handleOf(session.sessionId);
    assert.equal(handle.hibernated, true);
    assert.equal(handle.podName, null);
    homeDir = cwd;
  });

  it('resumes a hibernated session in a new pod on the same disk, and it streams again', async () => {
    const res = await t.api(`/api/v1/sessions/${session.sessionId}/resume`, { method: 'POST', token });
    assert.equal((res.body as Session).state, 'active', JSON.stringify(res.body));
    const woke = await handleOf(session.sessionId);
    assert.equal(woke.hibernated, false);
    assert.ok(woke.podName && woke.podName !== handle.podName);
    const pid = cluster.kubelet.containerPid(cluster.namespace, woke.podName);
    const home = await readlink(`/proc/${pid}/cwd`);
    assert.equal(home, homeDir, 'the same home volume is mounted');
    assert.equal(await readFile(join(home, 'notes.txt'), 'utf8'), 'kept across hibernation');
    assertCoversScreen(await firstFrames(t, session.sessionId, token), 1280, 720);
    handle = woke;
  });

  it('answers the 55 handshake’s Kubernetes health check from its informers', async () => {
    const res = await t.api('/api/v1/handshake', { token });
    const checks = (
      res.body as { checks: Array<{ id: string; applicable: boolean; ok: boolean; evidence: string }> }
    ).checks;
    const check = checks.find((c) => c.id === 'kubernetes-health');
    assert.equal(check?.applicable, true);
    assert.equal(check?.ok, true, check?.evidence);
    assert.match(check?.evidence ?? '', /informers synced on namespace v-supercore: 1 session pods/);
    // Isolation and limits as the runtime's own pods enforce them, and this session's own Secret and volume.
    const isolation = checks.find((c) => c.id === 'session-isolation');
    assert.equal(isolation?.ok, true, isolation?.evidence);
    assert.match(
      isolation?.evidence ?? '',
      /runs as non-root uid 1000 .*; 1 live sessions, each with its own Secret/,
    );
    const limits = checks.find((c) => c.id === 'resource-limits');
    assert.equal(limits?.ok, true, limits?.evidence);
    assert.match(limits?.evidence ?? '', /each pod requests and is limited to exactly its tier$/);
  });

  it('terminates: pod, PVC and Secret are deleted and usage is recorded', async () => {
    const res = await t.api(`/api/v1/sessions/${session.sessionId}`, { method: 'DELETE', token });
    assert.equal((res.body as Session).state, 'terminated');
    await waitFor(
      () => objects('pods').length + objects('persistentvolumeclaims').length + objects('secrets').length,
      (n) => n === 0,
    );
    assert.deepEqual([objects('pods'), objects('persistentvolumeclaims'), objects('secrets')], [[], [], []]);
    const usage = await t.adapter.canon.getUsage(session.sessionId);
    assert.ok(
      usage && usage.resourceConsumption.pausedSeconds >= 1,
      'paused and hibernated time is metered as paused',
    );
  });
});
