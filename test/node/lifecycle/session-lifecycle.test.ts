import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import type { SessionState } from '../../../protocol/session.ts';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { InProcessSessionEventBus } from '../../../backend-adapter/events/in-process-session-event-bus.ts';
import type { SessionChangedEvent } from '../../../backend-adapter/events/session-event-bus.ts';
import { DEFAULT_POLICY, type LifecyclePolicy } from '../../../backend-adapter/lifecycle/lifecycle-policy.ts';
import { SessionLifecycle } from '../../../backend-adapter/lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from '../../../backend-adapter/locks/in-process-session-locks.ts';
import type {
  DesktopSample,
  DesktopStatus,
  RuntimeHandle,
  RuntimeProvider,
} from '../../../backend-adapter/runtime/runtime-provider.ts';

/**
 * A fake runtime (no processes): each operation waits on a gate the test controls, so in-flight
 * transitions, hangs and failures can be produced on purpose. The real runtime is tested with Xvnc elsewhere.
 */
class FakeRuntime implements RuntimeProvider {
  readonly name = 'fake';
  readonly calls: string[] = [];
  hold: Partial<Record<'start' | 'pause' | 'resume' | 'stop', Promise<void>>> = {};
  fail: Partial<Record<'start' | 'pause' | 'resume', string>> = {};
  status_: DesktopStatus = 'running';

  private async step(op: 'start' | 'pause' | 'resume' | 'stop'): Promise<void> {
    this.calls.push(op);
    await this.hold[op];
    const reason = op === 'stop' ? undefined : this.fail[op];
    if (reason) throw new Error(reason);
  }
  async start(sessionId: string): Promise<RuntimeHandle> {
    await this.step('start');
    return {
      kind: 'local',
      pgid: 1,
      pid: 1,
      display: 1,
      host: '127.0.0.1',
      port: 1,
      password: 'p',
      workDir: `/x/${sessionId}`,
    };
  }
  async pause(): Promise<void> {
    await this.step('pause');
    this.status_ = 'stopped';
  }
  async resume(): Promise<void> {
    await this.step('resume');
    this.status_ = 'running';
  }
  async stop(): Promise<void> {
    await this.step('stop');
    this.status_ = 'gone';
  }
  async status(): Promise<DesktopStatus> {
    return this.status_;
  }
  async sample(): Promise<DesktopSample | undefined> {
    return { cpuSeconds: 0, memoryBytes: 0, gpuPercent: null };
  }
  async reclaimOrphans(): Promise<string[]> {
    return [];
  }
}

const alice = { userId: 'alice', tenantId: 't1', subscription: 'enterprise' };

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

async function rejectsWith(work: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(work, (e: unknown) => e instanceof ApiError && e.code === code);
}

describe('session lifecycle (state machine on real SQLite, fake runtime)', () => {
  let dir: string;
  let canon: SqliteCanonStore;
  let runtime: FakeRuntime;
  let events: SessionChangedEvent[];
  let now: number;
  let lifecycle: SessionLifecycle;

  const make = (policy: Partial<LifecyclePolicy> = {}) => {
    const bus = new InProcessSessionEventBus();
    bus.subscribe((e) => events.push(e));
    lifecycle = new SessionLifecycle({
      canon,
      runtime,
      events: bus,
      locks: new InProcessSessionLocks(),
      policy: { ...DEFAULT_POLICY, ...policy },
      logger: pino({ level: 'silent' }),
      clock: () => new Date(now),
    });
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-lifecycle-'));
    canon = new SqliteCanonStore(join(dir, 'canon.sqlite'));
    runtime = new FakeRuntime();
    events = [];
    now = Date.parse('2026-01-12T10:00:00Z');
    make();
  });
  afterEach(async () => {
    await canon.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('allows exactly the IMVU transitions and refuses the rest without changing anything', async () => {
    const table: Array<[SessionState, 'pause' | 'resume' | 'terminate', boolean]> = [
      ['active', 'pause', true],
      ['active', 'resume', false],
      ['active', 'terminate', true],
      ['paused', 'pause', false],
      ['paused', 'resume', true],
      ['paused', 'terminate', true],
      ['terminated', 'pause', false],
      ['terminated', 'resume', false],
      ['terminated', 'terminate', false],
    ];
    for (const [state, action, legal] of table) {
      const s = await lifecycle.create(alice, 'basic');
      if (state !== 'active') await lifecycle[state === 'paused' ? 'pause' : 'terminate'](alice, s.sessionId);
      const recordsBefore = (await canon.listRecords(s.sessionId)).length;
      if (legal) {
        await lifecycle[action](alice, s.sessionId);
      } else {
        await rejectsWith(lifecycle[action](alice, s.sessionId), 'ILLEGAL_TRANSITION');
        assert.equal((await canon.getSession(s.sessionId))?.session.state, state, `${action} from ${state}`);
        assert.equal((await canon.listRecords(s.sessionId)).length, recordsBefore);
      }
      const live = await canon.listUnfinished();
      for (const row of live) await lifecycle.terminate(alice, row.session.sessionId); // stay under quota
    }
  });

  it('publishes every transition with its previous state', async () => {
    const s = await lifecycle.create(alice, 'basic');
    await lifecycle.pause(alice, s.sessionId);
    assert.deepEqual(
      events.map((e) => [e.previousState, e.session.state]),
      [
        [null, 'requested'],
        ['requested', 'provisioning'],
        ['provisioning', 'active'],
        ['active', 'pausing'],
        ['pausing', 'paused'],
      ],
    );
  });

  it('serialises concurrent changes: a second pause while one is in flight gets TRANSITION_IN_PROGRESS', async () => {
    const s = await lifecycle.create(alice, 'basic');
    const g = gate();
    runtime.hold.pause = g.promise;
    const first = lifecycle.pause(alice, s.sessionId);
    await new Promise((r) => setImmediate(r));
    await rejectsWith(lifecycle.pause(alice, s.sessionId), 'TRANSITION_IN_PROGRESS');
    await rejectsWith(lifecycle.terminate(alice, s.sessionId), 'TRANSITION_IN_PROGRESS');
    g.open();
    assert.equal((await first).state, 'paused');
    assert.equal(runtime.calls.filter((c) => c === 'pause').length, 1);
  });

  it('fails a provisioning that does not come up in time, and releases what was started', async () => {
    make({ transitionTimeoutMs: 50 });
    runtime.hold.start = new Promise(() => undefined);
    await rejectsWith(lifecycle.create(alice, 'basic'), 'RUNTIME_FAILED');
    const [row] = await canon.listSessions(alice);
    assert.equal(row?.session.state, 'failed');
    assert.match(row?.session.failureReason ?? '', /provisioning did not finish within 50 ms/);
  });

  it('ends a session whose pause hangs in failed, with its desktop stopped', async () => {
    make({ transitionTimeoutMs: 50 });
    const s = await lifecycle.create(alice, 'basic');
    runtime.hold.pause = new Promise(() => undefined);
    await rejectsWith(lifecycle.pause(alice, s.sessionId), 'RUNTIME_FAILED');
    assert.equal((await canon.getSession(s.sessionId))?.session.state, 'failed');
    assert.ok(runtime.calls.includes('stop'));
  });

  it('refuses tiers above the subscription and unknown tiers', async () => {
    await rejectsWith(lifecycle.create({ ...alice, subscription: 'free' }, 'pro'), 'TIER_NOT_ALLOWED');
    await rejectsWith(lifecycle.create({ userId: 'x', tenantId: 't1' }, 'basic'), 'TIER_NOT_ALLOWED');
    await rejectsWith(lifecycle.create(alice, 'nope'), 'UNKNOWN_TIER');
    assert.equal((await lifecycle.create({ ...alice, subscription: 'free' }, 'basic')).state, 'active');
  });

  it('enforces the per-user quota at Genesis, also for concurrent launches', async () => {
    make({ limits: { ...DEFAULT_POLICY.limits, maxLiveSessionsPerUser: 2 } });
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => lifecycle.create(alice, 'basic')));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.ok(refused.every((r) => r.reason instanceof ApiError && r.reason.code === 'QUOTA_EXCEEDED'));
    assert.equal((await canon.listSessions(alice)).length, 2);
  });

  it('pauses an idle session and terminates one past its maximum length, from Canon Memory alone', async () => {
    const idle = await lifecycle.create(alice, 'basic');
    now += 31 * 60_000; // basic: idle 30 min
    const busy = await lifecycle.create(alice, 'basic');
    await lifecycle.enforceTimeouts(async () => 30);
    assert.equal((await canon.getSession(idle.sessionId))?.session.state, 'paused');
    assert.equal((await canon.getSession(busy.sessionId))?.session.state, 'active');
    const records = await canon.listRecords(idle.sessionId);
    assert.equal(records.at(-1)?.actor, 'system:idle-timeout');

    now += 8 * 60 * 60_000; // basic: at most 8 h
    await lifecycle.enforceTimeouts(async () => 30);
    assert.equal((await canon.getSession(idle.sessionId))?.session.state, 'terminated');
    assert.equal((await canon.listRecords(idle.sessionId)).at(-1)?.actor, 'system:max-session-length');
  });

  it('gives a resumed session a fresh idle period', async () => {
    const s = await lifecycle.create(alice, 'basic');
    now += 31 * 60_000;
    await lifecycle.enforceTimeouts(async () => 30);
    assert.equal((await canon.getSession(s.sessionId))?.session.state, 'paused');
    await lifecycle.resume(alice, s.sessionId);
    await lifecycle.enforceTimeouts(async () => 30);
    assert.equal((await canon.getSession(s.sessionId))?.session.state, 'active');
  });

  it('reconciles after a crash: transitional states settle, vanished desktops fail', async () => {
    const a = await lifecycle.create(alice, 'basic');
    const b = await lifecycle.create(alice, 'basic');
    // What a crash mid-transition leaves: a recorded "pausing" whose runtime step never finished.
    await canon.transition({
      sessionId: a.sessionId,
      from: ['active'],
      to: 'pausing',
      action: 'pause.started',
      actor: 'alice',
      at: new Date(now),
    });
    runtime.status_ = 'running';
    await lifecycle.reconcile();
    assert.equal((await canon.getSession(a.sessionId))?.session.state, 'paused');
    assert.ok(runtime.calls.includes('pause'));
    runtime.status_ = 'gone';
    await lifecycle.reconcile();
    assert.equal((await canon.getSession(b.sessionId))?.session.state, 'failed');
    assert.match(
      (await canon.getSession(b.sessionId))?.session.failureReason ?? '',
      /ended while the adapter was down/,
    );
  });
});
