import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Session } from '../../../protocol/session.ts';
import type {
  KubernetesRuntimeHandle,
  LocalRuntimeHandle,
  RuntimeHandle,
} from '../../../backend-adapter/runtime/runtime-provider.ts';
import { AgentClient } from '../../../backend-adapter/runtime/agent-client.ts';
import { processState } from '../../../session-agent/proc.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';
import { startFakeCluster, type FakeCluster } from '../../support/fake-kubernetes/fake-cluster.ts';

/** The watchdog fast: a check every 300 ms, stuck after 2 failed checks, 3 attempts 200 ms apart. */
const WATCHDOG_ENV = {
  AI_REMEDIATION: 'act',
  AGENT_HEALTH_INTERVAL_MS: '300',
  AGENT_HEALTH_FAILURES: '2',
  DESKTOP_RESTART_ATTEMPTS: '3',
  DESKTOP_RESTART_BACKOFF_MS: '200',
  LOG_LEVEL: 'warn',
};

async function waitFor<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The watchdog counts a restart once the lifecycle has answered it, which is just after the records a test
 * waits for are written: the count is waited for too.
 */
async function restartCounted(t: TestAdapter, outcome: 'restarted' | 'failed'): Promise<void> {
  const counted = new RegExp(`v_supercore_desktop_restarts_total\\{outcome="${outcome}"\\} 1\\b`);
  await waitFor(
    () => fetch(`${t.adapter.url}/metrics`).then((r) => r.text()),
    (metrics) => counted.test(metrics),
    `the ${outcome} restart counted`,
    10_000,
  );
}

async function launch(t: TestAdapter, token: string): Promise<Session> {
  const res = await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as Session;
}

const handleOf = async (t: TestAdapter, id: string): Promise<RuntimeHandle | null> =>
  (await t.adapter.canon.getSession(id))?.runtime ?? null;

/** The session's state changes as Canon Memory recorded them: [action, to state, actor]. */
async function transitions(t: TestAdapter, id: string): Promise<string[][]> {
  return (await t.adapter.canon.listRecords(id))
    .filter((r) => r.entity === 'session')
    .map((r) => [r.action, r.toState ?? '', r.actor]);
}

const restartsIn = (records: string[][]) => records.filter((r) => r[0]?.startsWith('restart.'));

describe('restart of a stuck desktop (local runtime: real session agents and Xvnc)', () => {
  let t: TestAdapter;
  let token: string;

  before(async () => {
    t = await startTestAdapter(WATCHDOG_ENV);
    token = await t.login('stuart', 'tenant-r');
  });
  after(async () => {
    await t?.close();
  });

  it('restarts a session whose agent stopped answering (SIGSTOP): restarting, then active on the same home', async () => {
    const session = await launch(t, token);
    const before = (await handleOf(t, session.sessionId)) as LocalRuntimeHandle;
    assert.ok(before.agentPid);
    await writeFile(join(before.workDir, 'notes.txt'), 'kept across the restart');
    const seen = new Set<string>();
    const states = setInterval(
      () =>
        void t
          .api(`/api/v1/sessions/${session.sessionId}`, { token })
          .then((r) => seen.add((r.body as Session).state)),
      50,
    );
    try {
      process.kill(before.agentPid, 'SIGSTOP');
      const records = await waitFor(
        () => transitions(t, session.sessionId),
        (r) => r.some((x) => x[0] === 'restart.completed'),
        'the restart',
      );
      assert.deepEqual(restartsIn(records), [
        ['restart.started', 'restarting', 'system:nexus-ai'],
        ['restart.completed', 'active', 'system:nexus-ai'],
      ]);
      assert.ok(seen.has('restarting'), `the user saw the session restarting (saw ${[...seen].join(', ')})`);
    } finally {
      clearInterval(states);
    }
    const after = (await handleOf(t, session.sessionId)) as LocalRuntimeHandle;
    assert.notEqual(after.agentPid, before.agentPid, 'a new agent');
    assert.notEqual(after.pid, before.pid, 'a new display server');
    assert.equal(await processState(before.agentPid), undefined, 'the stuck agent is gone');
    const health = await new AgentClient(after.agentUrl ?? '', after.agentToken ?? '').health();
    assert.equal(health.state, 'running');
    assert.equal(health.desktopAnswers, true);
    assert.equal(await readFile(join(after.workDir, 'notes.txt'), 'utf8'), 'kept across the restart');
    const got = await t.api(`/api/v1/sessions/${session.sessionId}`, { token });
    assert.equal((got.body as Session).state, 'active');
    await restartCounted(t, 'restarted');
    await t.api(`/api/v1/sessions/${session.sessionId}/terminate`, { method: 'POST', token });
  });

  it('restarts a session whose desktop hung (its display server frozen) while the agent answers', async () => {
    const session = await launch(t, token);
    const before = (await handleOf(t, session.sessionId)) as LocalRuntimeHandle;
    process.kill(before.pid, 'SIGSTOP');
    const health = await new AgentClient(before.agentUrl ?? '', before.agentToken ?? '').health();
    assert.equal(health.desktopAnswers, false, 'the agent reports the hung display');
    await waitFor(
      () => transitions(t, session.sessionId),
      (r) => r.some((x) => x[0] === 'restart.completed'),
      'the restart',
    );
    const after = (await handleOf(t, session.sessionId)) as LocalRuntimeHandle;
    assert.notEqual(after.pid, before.pid);
    const state = await processState(before.pid);
    assert.ok(state === undefined || state === 'Z', `the frozen Xvnc was killed (state ${state})`);
    await t.api(`/api/v1/sessions/${session.sessionId}/terminate`, { method: 'POST', token });
  });

  it('fails the session with the reason once every restart attempt failed', async () => {
    const session = await launch(t, token);
    const before = (await handleOf(t, session.sessionId)) as LocalRuntimeHandle;
    // The agent stops answering, and the desktop is frozen too so that none of its programs writes in the
    // session's directory while it is replaced by a file (no new agent can start there). A program outside
    // the desktop's group may still write meanwhile (rm then fails with ENOTEMPTY): then again.
    process.kill(before.agentPid ?? 0, 'SIGSTOP');
    process.kill(-before.pgid, 'SIGSTOP');
    for (let attempt = 1; ; attempt++) {
      try {
        await rm(before.workDir, { recursive: true, force: true });
        await writeFile(before.workDir, 'not a directory', { flag: 'wx' });
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (attempt >= 10 || !['ENOTEMPTY', 'EISDIR', 'EEXIST'].includes(code)) throw error;
      }
    }
    const records = await waitFor(
      () => transitions(t, session.sessionId),
      (r) => r.some((x) => x[1] === 'failed'),
      'the failure',
    );
    assert.deepEqual(
      restartsIn(records).map((r) => r.slice(0, 2)),
      [
        ['restart.started', 'restarting'],
        ['restart.failed', 'failed'],
      ],
    );
    const got = (await t.api(`/api/v1/sessions/${session.sessionId}`, { token })).body as Session;
    assert.equal(got.state, 'failed');
    assert.match(got.failureReason ?? '', /stopped answering .* 3 restart attempts failed/);
    await restartCounted(t, 'failed');
    assert.equal(await processState(before.agentPid ?? 0), undefined, 'the stuck agent was ended');
    await rm(before.workDir, { force: true });
  });
});

describe('restart of a stuck desktop on Kubernetes (fake cluster: the pod is recreated, the PVC kept)', () => {
  let cluster: FakeCluster;
  let t: TestAdapter;
  let token: string;

  before(async () => {
    cluster = await startFakeCluster();
    t = await startTestAdapter(cluster.env(WATCHDOG_ENV));
    token = await t.login('kira', 'tenant-k');
  });
  after(async () => {
    await t?.close();
    await cluster?.close();
  });

  it('deletes the stuck pod and starts a new one on the same Secret and home volume', async () => {
    const session = await launch(t, token);
    const before = (await handleOf(t, session.sessionId)) as KubernetesRuntimeHandle;
    const pid = cluster.kubelet.containerPid(cluster.namespace, before.podName ?? '');
    assert.ok(pid, 'the fake kubelet runs the session agent');
    process.kill(pid, 'SIGSTOP');
    const records = await waitFor(
      () => transitions(t, session.sessionId),
      (r) => r.some((x) => x[0] === 'restart.completed' || x[1] === 'failed'),
      'the restart',
    );
    assert.deepEqual(
      restartsIn(records).map((r) => r.slice(0, 2)),
      [
        ['restart.started', 'restarting'],
        ['restart.completed', 'active'],
      ],
    );
    const after = (await handleOf(t, session.sessionId)) as KubernetesRuntimeHandle;
    assert.notEqual(after.podName, before.podName, 'a new pod');
    assert.equal(after.pvcName, before.pvcName, 'the same home volume');
    assert.equal(after.secretName, before.secretName);
    assert.equal(
      cluster.api.store.peek('pods', cluster.namespace, before.podName ?? ''),
      undefined,
      'the stuck pod is gone',
    );
    const health = await new AgentClient(after.agentUrl ?? '', after.agentToken ?? '').health();
    assert.equal(health.state, 'running');
    await t.api(`/api/v1/sessions/${session.sessionId}/terminate`, { method: 'POST', token });
  });
});
