import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { InProcessSessionEventBus } from '../../../backend-adapter/events/in-process-session-event-bus.ts';
import { DEFAULT_POLICY } from '../../../backend-adapter/lifecycle/lifecycle-policy.ts';
import { SessionLifecycle } from '../../../backend-adapter/lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from '../../../backend-adapter/locks/in-process-session-locks.ts';
import {
  RuntimeStartError,
  type DesktopStatus,
  type KubernetesRuntimeHandle,
  type RuntimeHandle,
  type RuntimeProvider,
} from '../../../backend-adapter/runtime/runtime-provider.ts';

const HIBERNATE_AFTER_MS = 60_000;

/** A runtime that hibernates (as the Kubernetes one does), without a cluster: handles are plain data. */
class HibernatingRuntime implements RuntimeProvider {
  readonly name = 'fake-kubernetes';
  readonly hibernateAfterMs: number | undefined = HIBERNATE_AFTER_MS;
  readonly calls: string[] = [];
  status_: DesktopStatus = 'running';
  failResume: string | undefined;
  private pods = 0;

  private handle(podName: string | null): KubernetesRuntimeHandle {
    return {
      kind: 'kubernetes',
      namespace: 'ns',
      podName,
      pvcName: 'vsc-s',
      secretName: 'vsc-s',
      tier: 'basic',
      hibernated: podName === null,
      host: podName ? `10.0.0.${this.pods}` : '',
      port: 5900,
      password: 'p',
      display: 0,
      agentToken: 't',
    };
  }
  async start(): Promise<RuntimeHandle> {
    this.calls.push('start');
    this.pods++;
    return this.handle(`pod-${this.pods}`);
  }
  async pause(): Promise<void> {
    this.calls.push('pause');
    this.status_ = 'stopped';
  }
  async resume(): Promise<void> {
    this.calls.push('resume');
    this.status_ = 'running';
  }
  async wake(): Promise<RuntimeHandle> {
    this.calls.push('wake');
    if (this.failResume) throw new RuntimeStartError(this.failResume);
    this.pods++;
    this.status_ = 'running';
    return this.handle(`pod-${this.pods}`);
  }
  async hibernate(): Promise<RuntimeHandle> {
    this.calls.push('hibernate');
    this.status_ = 'hibernated';
    return this.handle(null);
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
    this.status_ = 'gone';
  }
  async status(): Promise<DesktopStatus> {
    return this.status_;
  }
  async sample(): Promise<undefined> {
    return undefined;
  }
  async reclaimOrphans(): Promise<string[]> {
    return [];
  }
}

const alice = { userId: 'alice', tenantId: 't1', subscription: 'enterprise' };

describe('hibernation (paused → hibernated after a while, resumable from disk)', () => {
  let dir: string;
  let canon: SqliteCanonStore;
  let runtime: HibernatingRuntime;
  let now: number;
  let lifecycle: SessionLifecycle;
  const idleForever = async () => 1e6;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-hibernate-'));
    canon = new SqliteCanonStore(join(dir, 'canon.sqlite'));
    runtime = new HibernatingRuntime();
    now = Date.parse('2026-01-12T10:00:00Z');
    lifecycle = new SessionLifecycle({
      canon,
      runtime,
      events: new InProcessSessionEventBus(),
      locks: new InProcessSessionLocks(),
      policy: DEFAULT_POLICY,
      logger: pino({ level: 'silent' }),
      clock: () => new Date(now),
    });
  });
  afterEach(async () => {
    await canon.close();
    await rm(dir, { recursive: true, force: true });
  });

  const pausedSession = async () => {
    const s = await lifecycle.create(alice, 'basic');
    await lifecycle.pause(alice, s.sessionId);
    return s.sessionId;
  };

  it('hibernates a session paused longer than the runtime’s hibernate-after, and not before', async () => {
    const id = await pausedSession();
    now += HIBERNATE_AFTER_MS - 1000;
    await lifecycle.enforceTimeouts(idleForever);
    assert.equal((await canon.getSession(id))?.session.state, 'paused');
    now += 2000;
    await lifecycle.enforceTimeouts(idleForever);
    const row = await canon.getSession(id);
    assert.equal(row?.session.state, 'hibernated');
    assert.equal(
      row?.runtime?.kind === 'kubernetes' && row.runtime.hibernated,
      true,
      'the new handle is recorded',
    );
    const records = await canon.listRecords(id);
    assert.equal(records.at(-1)?.action, 'hibernate.completed');
    assert.equal(records.at(-1)?.actor, 'system:hibernate-after');
  });

  it('resumes a hibernated session into a new desktop, and records where it now is', async () => {
    const id = await pausedSession();
    now += HIBERNATE_AFTER_MS + 1;
    await lifecycle.enforceTimeouts(idleForever);
    now += 1000;
    const resumed = await lifecycle.resume(alice, id);
    assert.equal(resumed.state, 'active');
    const row = await canon.getSession(id);
    assert.equal(row?.runtime?.kind === 'kubernetes' && row.runtime.podName, 'pod-2');
    assert.equal(row?.runtime?.host, '10.0.0.2');
  });

  it('a hibernated session that cannot come back stays hibernated with its disk (nothing is stopped)', async () => {
    const id = await pausedSession();
    now += HIBERNATE_AFTER_MS + 1;
    await lifecycle.enforceTimeouts(idleForever);
    runtime.failResume = 'the cluster’s resource quota is exhausted';
    await assert.rejects(
      lifecycle.resume(alice, id),
      (e: unknown) => e instanceof ApiError && e.code === 'RUNTIME_FAILED',
    );
    assert.equal((await canon.getSession(id))?.session.state, 'hibernated');
    assert.ok(!runtime.calls.includes('stop'));
  });

  it('a hibernated session cannot be paused, can be terminated, and its time is metered as paused', async () => {
    const id = await pausedSession();
    now += HIBERNATE_AFTER_MS + 1;
    await lifecycle.enforceTimeouts(idleForever);
    await assert.rejects(
      lifecycle.pause(alice, id),
      (e: unknown) => e instanceof ApiError && e.code === 'ILLEGAL_TRANSITION',
    );
    now += 120_000;
    const ended = await lifecycle.terminate(alice, id);
    assert.equal(ended.state, 'terminated');
    assert.ok(runtime.calls.includes('stop'));
    const usage = await canon.getUsage(id);
    assert.equal(
      usage?.resourceConsumption.pausedSeconds,
      Math.round((HIBERNATE_AFTER_MS + 1 + 120_000) / 1000),
    );
    assert.equal(usage?.resourceConsumption.activeSeconds, 0);
  });

  it('reconcile: a paused session whose desktop vanished but whose disk is left becomes hibernated', async () => {
    const id = await pausedSession();
    runtime.status_ = 'hibernated';
    await lifecycle.reconcile();
    assert.equal((await canon.getSession(id))?.session.state, 'hibernated');
    assert.ok(runtime.calls.includes('hibernate'));
    runtime.status_ = 'gone';
    await lifecycle.reconcile();
    assert.equal((await canon.getSession(id))?.session.state, 'failed');
  });

  it('a runtime that does not hibernate (local) leaves paused sessions paused', async () => {
    Object.assign(runtime, { hibernateAfterMs: undefined });
    const id = await pausedSession();
    now += HIBERNATE_AFTER_MS * 100;
    await lifecycle.enforceTimeouts(idleForever);
    assert.equal((await canon.getSession(id))?.session.state, 'paused');
  });
});
