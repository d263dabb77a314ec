// After a crash a session can be left in a transitional state that nobody works on any more (start-up reconcile
// may even have found it locked by the dead holder). The periodic timeout pass reconciles it, as at start-up,
// once it is older than a transition plus the lock's ttl and its lock is free. Real SQLite, fake runtime/clock.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HANDSHAKE } from '../../../protocol/handshake.ts';
import type { SessionState } from '../../../protocol/session.ts';
import { LockHeldError, type SessionLocks } from '../../../backend-adapter/locks/session-locks.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { alice, lifecycleRig, type LifecycleRig } from './lifecycle-fixture.ts';

const T = 30_000; // the transition timeout
const idle = async (): Promise<number> => 30;

describe('sessions stuck in a transitional state', () => {
  let rig: LifecycleRig;
  beforeEach(async () => {
    rig = await lifecycleRig();
    rig.make({ transitionTimeoutMs: T });
  });
  afterEach(async () => {
    await rig.cleanup();
  });

  const stateOf = async (id: string) => (await rig.canon.getSession(id))?.session.state;
  /** What a crash mid-transition leaves: the transitional state recorded, the runtime step never finished. */
  const leave = async (sessionId: string, from: SessionState, to: SessionState): Promise<void> => {
    const moved = await rig.canon.transition({
      sessionId,
      from: [from],
      to,
      action: `${to}.started`,
      actor: 'alice',
      at: new Date(rig.clock.now),
    });
    assert.ok(moved);
  };
  const lastRecord = async (id: string) =>
    (await rig.canon.listRecords(id)).filter((r) => r.entity === 'session').at(-1);

  it('settles a session left pausing once it is older than a transition (single process, lock free)', async () => {
    const { lifecycle, runtime } = rig;
    const s = await lifecycle.create(alice, 'basic');
    await leave(s.sessionId, 'active', 'pausing');
    rig.clock.now += T - 1000;
    await lifecycle.enforceTimeouts(idle);
    assert.equal(await stateOf(s.sessionId), 'pausing', 'a transition may still be running: left alone');
    assert.ok(!runtime.calls.includes('pause'));

    rig.clock.now += 2000;
    await lifecycle.enforceTimeouts(idle);
    assert.equal(await stateOf(s.sessionId), 'paused');
    assert.ok(runtime.calls.includes('pause'), 'the desktop was really paused');
    const record = await lastRecord(s.sessionId);
    assert.equal(record?.action, 'reconcile.paused');
    assert.equal(record?.actor, 'system:reconcile');
  });

  it('waits out a dead holder’s lock: counts its ttl, and never acts while the lock is held', async () => {
    // The lock a crashed replica left, expiring on the lifecycle's clock as a Redis key would.
    const expiresAt = new Map<string, number>();
    const locks: SessionLocks = {
      async withLock(sessionId, fn) {
        if ((expiresAt.get(sessionId) ?? 0) > rig.clock.now) throw new LockHeldError(sessionId);
        expiresAt.set(sessionId, Infinity);
        try {
          return await fn();
        } finally {
          expiresAt.delete(sessionId);
        }
      },
      async close() {},
    };
    const ttl = 2 * T;
    const lifecycle = rig.make({ transitionTimeoutMs: T }, { locks, lockTtlMs: ttl });
    const early = await lifecycle.create(alice, 'basic');
    const late = await lifecycle.create(alice, 'basic');
    const crashedAt = rig.clock.now;
    await leave(early.sessionId, 'active', 'pausing');
    await leave(late.sessionId, 'active', 'pausing');
    // One holder died at once: its lock lives one ttl. The other kept extending its lock for 40 s first.
    expiresAt.set(early.sessionId, crashedAt + ttl);
    expiresAt.set(late.sessionId, crashedAt + 40_000 + ttl);
    const states = async () => [await stateOf(early.sessionId), await stateOf(late.sessionId)];
    const at = async (ms: number) => {
      rig.clock.now = crashedAt + ms;
      await lifecycle.enforceTimeouts(idle);
      return states();
    };

    rig.clock.now = crashedAt + 1000;
    await lifecycle.reconcile(); // a replica starting up: both locks are held, nothing it can do
    assert.deepEqual(await states(), ['pausing', 'pausing']);
    // Past a transition, and the first lock has expired — but a transition plus a ttl has not passed.
    assert.deepEqual(await at(ttl + 1000), ['pausing', 'pausing']);
    assert.ok(!rig.runtime.calls.includes('pause'));
    // Past a transition plus a ttl: the first is settled; the second's lock is still held.
    assert.deepEqual(await at(T + ttl + 1000), ['paused', 'pausing']);
    assert.equal(rig.runtime.calls.filter((c) => c === 'pause').length, 1);
    // Its lock has expired too (its desktop still runs: the fake runtime keeps one status for all).
    rig.runtime.status_ = 'running';
    assert.deepEqual(await at(40_000 + ttl + 1), ['paused', 'paused']);
    assert.equal(rig.runtime.calls.filter((c) => c === 'pause').length, 2);
  });

  it('settles every transitional state as start-up reconcile does', async () => {
    const { lifecycle, runtime, canon } = rig;
    const settle = async (): Promise<void> => {
      rig.clock.now += T + 1;
      await lifecycle.enforceTimeouts(idle);
    };

    // terminating: the desktop is stopped and the usage written.
    const ending = await lifecycle.create(alice, 'basic');
    rig.clock.now += 60_000;
    await leave(ending.sessionId, 'active', 'terminating');
    await settle();
    assert.equal(await stateOf(ending.sessionId), 'terminated');
    assert.ok(runtime.calls.includes('stop'));
    assert.equal((await canon.getUsage(ending.sessionId))?.resourceConsumption.activeSeconds, 60);

    // resuming and restarting, desktop frozen: thawed, active again.
    for (const [via, from] of [
      ['resuming', 'paused'],
      ['restarting', 'active'],
    ] as const) {
      const s = await lifecycle.create(alice, 'basic');
      if (from === 'paused') await lifecycle.pause(alice, s.sessionId);
      runtime.status_ = 'stopped';
      const resumes = runtime.calls.filter((c) => c === 'resume').length;
      await leave(s.sessionId, from, via);
      await settle();
      assert.equal(await stateOf(s.sessionId), 'active', via);
      assert.equal(runtime.calls.filter((c) => c === 'resume').length, resumes + 1, via);
      await lifecycle.terminate(alice, s.sessionId);
    }

    // requested and provisioning: a launch the holder never finished fails; it never ran, so no usage.
    for (const state of ['requested', 'provisioning'] as const) {
      const tier = findTier('basic') ?? assert.fail('no basic tier');
      const at = new Date(rig.clock.now).toISOString();
      const sessionId = `launch-${state}`;
      await canon.createSession(
        {
          session: {
            sessionId,
            userId: alice.userId,
            tenantId: alice.tenantId,
            tier: tier.id,
            resources: tier.resources,
            state: 'requested',
            createdAt: at,
            canonTimestamp: at,
            handshake: HANDSHAKE,
          },
          runtime: null,
          lastActivityAt: at,
        },
        alice.userId,
      );
      if (state === 'provisioning') await leave(sessionId, 'requested', 'provisioning');
      await settle();
      const row = await canon.getSession(sessionId);
      assert.equal(row?.session.state, 'failed', state);
      assert.match(row?.session.failureReason ?? '', /adapter stopped during provisioning/);
      assert.equal(await canon.getUsage(sessionId), undefined, state);
    }
  });

  it('ends a stuck session failed within the deadline when its runtime step hangs too, with its usage', async () => {
    const lifecycle = rig.make({ transitionTimeoutMs: 50 });
    const { runtime, canon } = rig;
    const s = await lifecycle.create(alice, 'basic');
    rig.clock.now += 10 * 60_000;
    await leave(s.sessionId, 'active', 'pausing');
    runtime.hold.pause = new Promise(() => undefined);
    rig.clock.now += 1000;
    const began = performance.now();
    await lifecycle.enforceTimeouts(idle);
    assert.ok(performance.now() - began < 1000, 'bounded by the transition deadline');
    const row = await canon.getSession(s.sessionId);
    assert.equal(row?.session.state, 'failed');
    assert.match(
      row?.session.failureReason ?? '',
      /pausing session could not be settled: pause did not finish within 50 ms/,
    );
    assert.equal(row?.runtime, null);
    assert.ok(runtime.calls.includes('stop'), 'what was left of the desktop is stopped');
    // It ran ten minutes before the crash; those are billed.
    assert.equal((await canon.getUsage(s.sessionId))?.resourceConsumption.activeSeconds, 600);
  });

  it('keeps a stuck session while the runtime cannot say what it has, and settles it once it can', async () => {
    const { lifecycle, runtime } = rig;
    const s = await lifecycle.create(alice, 'basic');
    await leave(s.sessionId, 'active', 'pausing');
    const answers = runtime.status.bind(runtime);
    runtime.status = async () => {
      throw new Error('the Kubernetes API has not answered yet');
    };
    rig.clock.now += T + 1;
    await lifecycle.enforceTimeouts(idle);
    assert.equal(await stateOf(s.sessionId), 'pausing', 'not ended for an outage of the control plane');
    assert.ok(!runtime.calls.includes('stop'));

    runtime.status = answers;
    await lifecycle.enforceTimeouts(idle);
    assert.equal(await stateOf(s.sessionId), 'paused');
  });

  it('never touches a transition that is in flight in this process', async () => {
    const lifecycle = rig.make({ transitionTimeoutMs: 60 * 60_000 });
    const { runtime } = rig;
    const s = await lifecycle.create(alice, 'basic');
    let release = (): void => undefined;
    runtime.hold.pause = new Promise<void>((r) => (release = r));
    const pausing = lifecycle.pause(alice, s.sessionId);
    // In flight: recorded as pausing, and the desktop is being paused.
    while (!runtime.calls.includes('pause')) await new Promise((r) => setImmediate(r));
    assert.equal(await stateOf(s.sessionId), 'pausing');
    rig.clock.now += 2 * 60 * 60_000; // however old it looks, its lock is held
    await lifecycle.enforceTimeouts(idle);
    assert.equal(await stateOf(s.sessionId), 'pausing');
    assert.equal(runtime.calls.filter((c) => c === 'pause').length, 1);
    release();
    assert.equal((await pausing).state, 'paused');
  });
});
