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
import type { SessionGate } from '../../../backend-adapter/lifecycle/session-gate.ts';
import {
  SessionLifecycle,
  type LifecycleDeps,
} from '../../../backend-adapter/lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from '../../../backend-adapter/locks/in-process-session-locks.ts';
import type { SessionLocks } from '../../../backend-adapter/locks/session-locks.ts';
import { FakeRuntime, alice, eventually, gate, rejectsWith } from './lifecycle-fixture.ts';

describe('session lifecycle (state machine on real SQLite, fake runtime)', () => {
  let dir: string;
  let canon: SqliteCanonStore;
  let runtime: FakeRuntime;
  let events: SessionChangedEvent[];
  let now: number;
  let lifecycle: SessionLifecycle;

  /** A lifecycle (a replica) on this test's Canon Memory, runtime and clock. */
  const build = (events = new InProcessSessionEventBus(), policy = DEFAULT_POLICY) =>
    new SessionLifecycle({
      canon,
      runtime,
      events,
      locks: new InProcessSessionLocks(),
      policy,
      logger: pino({ level: 'silent' }),
      clock: () => new Date(now),
    });
  const make = (policy: Partial<LifecyclePolicy> = {}) => {
    const bus = new InProcessSessionEventBus();
    bus.subscribe((e) => events.push(e));
    lifecycle = build(bus, { ...DEFAULT_POLICY, ...policy });
  };
  /** Another replica on the same Canon Memory: sessions it launched are unknown to `lifecycle`. */
  const replica = () => build();

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

  it('allows exactly the IMVU transitions and refuses the rest with 409, without changing anything', async () => {
    type Action = 'pause' | 'resume' | 'terminate' | 'changeTier';
    type Outcome = 'ok' | 'ILLEGAL_TRANSITION' | 'TRANSITION_IN_PROGRESS';
    const run = (action: Action, id: string): Promise<unknown> =>
      action === 'changeTier' ? lifecycle.changeTier(alice, id, 'standard') : lifecycle[action](alice, id);
    const stateOf = async (id: string) => (await canon.getSession(id))?.session.state;
    const until = async (id: string, state: SessionState): Promise<void> => {
      while ((await stateOf(id)) !== state) await new Promise((r) => setImmediate(r));
    };
    /** Brings a fresh active session to the row's state; returns what finishes anything left in flight. */
    const setups: Record<string, (id: string) => Promise<() => Promise<void>>> = {
      active: async () => async () => undefined,
      paused: async (id) => {
        await lifecycle.pause(alice, id);
        return async () => undefined;
      },
      failed: async (id) => {
        runtime.fail.pause = 'the desktop is no longer running';
        await rejectsWith(lifecycle.pause(alice, id), 'RUNTIME_FAILED');
        delete runtime.fail.pause;
        return async () => undefined;
      },
      terminated: async (id) => {
        await lifecycle.terminate(alice, id);
        return async () => undefined;
      },
      'pausing (in flight)': async (id) => {
        const g = gate();
        runtime.hold.pause = g.promise;
        const pausing = lifecycle.pause(alice, id);
        await until(id, 'pausing');
        return async () => {
          g.open();
          assert.equal((await pausing).state, 'paused');
          delete runtime.hold.pause;
        };
      },
      'resuming (in flight)': async (id) => {
        await lifecycle.pause(alice, id);
        const g = gate();
        runtime.hold.resume = g.promise;
        const resuming = lifecycle.resume(alice, id);
        await until(id, 'resuming');
        return async () => {
          g.open();
          assert.equal((await resuming).state, 'active');
          delete runtime.hold.resume;
        };
      },
      // What a crash mid-pause leaves: the state recorded, nobody holding the lock. Only reconcile moves it.
      'pausing (left by a crash)': async (id) => {
        await canon.transition({
          sessionId: id,
          from: ['active'],
          to: 'pausing',
          action: 'pause.started',
          actor: 'alice',
          at: new Date(now),
        });
        return async () => {
          runtime.status_ = 'running';
          await lifecycle.reconcile();
          assert.equal(await stateOf(id), 'paused');
        };
      },
    };
    const ok: Record<Action, (from: SessionState) => SessionState> = {
      pause: () => 'paused',
      resume: () => 'active',
      terminate: () => 'terminated',
      changeTier: (from) => from,
    };
    const table: Array<[string, Action, Outcome]> = [
      ['active', 'pause', 'ok'],
      ['active', 'resume', 'ILLEGAL_TRANSITION'],
      ['active', 'terminate', 'ok'],
      ['active', 'changeTier', 'ok'],
      ['paused', 'pause', 'ILLEGAL_TRANSITION'],
      ['paused', 'resume', 'ok'],
      ['paused', 'terminate', 'ok'],
      ['paused', 'changeTier', 'ok'],
      ['failed', 'pause', 'ILLEGAL_TRANSITION'],
      ['failed', 'resume', 'ILLEGAL_TRANSITION'],
      ['failed', 'changeTier', 'ILLEGAL_TRANSITION'],
      ['failed', 'terminate', 'ok'], // a failed session is closed, e.g. before erasure
      ['terminated', 'pause', 'ILLEGAL_TRANSITION'],
      ['terminated', 'resume', 'ILLEGAL_TRANSITION'],
      ['terminated', 'terminate', 'ILLEGAL_TRANSITION'],
      ['terminated', 'changeTier', 'ILLEGAL_TRANSITION'],
      ['pausing (in flight)', 'pause', 'TRANSITION_IN_PROGRESS'],
      ['pausing (in flight)', 'resume', 'TRANSITION_IN_PROGRESS'],
      ['pausing (in flight)', 'terminate', 'TRANSITION_IN_PROGRESS'],
      ['pausing (in flight)', 'changeTier', 'TRANSITION_IN_PROGRESS'],
      ['resuming (in flight)', 'pause', 'TRANSITION_IN_PROGRESS'],
      ['resuming (in flight)', 'resume', 'TRANSITION_IN_PROGRESS'],
      ['resuming (in flight)', 'terminate', 'TRANSITION_IN_PROGRESS'],
      ['resuming (in flight)', 'changeTier', 'TRANSITION_IN_PROGRESS'],
      ['pausing (left by a crash)', 'pause', 'ILLEGAL_TRANSITION'],
      ['pausing (left by a crash)', 'resume', 'ILLEGAL_TRANSITION'],
      ['pausing (left by a crash)', 'terminate', 'ILLEGAL_TRANSITION'],
      ['pausing (left by a crash)', 'changeTier', 'ILLEGAL_TRANSITION'],
    ];
    for (const [label, action, outcome] of table) {
      const what = `${action} from ${label}`;
      const s = await lifecycle.create(alice, 'basic');
      const setup = setups[label];
      assert.ok(setup, label);
      const settle = await setup(s.sessionId);
      const before = await canon.getSession(s.sessionId);
      const state = before?.session.state;
      assert.ok(state, what);
      const recordsBefore = (await canon.listRecords(s.sessionId)).length;
      if (outcome === 'ok') {
        await run(action, s.sessionId);
        const after = (await canon.getSession(s.sessionId))?.session;
        assert.equal(after?.state, ok[action](state), what);
        if (action === 'changeTier') assert.equal(after?.tier, 'standard', what);
      } else {
        await assert.rejects(run(action, s.sessionId), (e: unknown) => {
          assert.ok(e instanceof ApiError, `${what}: ${String(e)}`);
          assert.equal(e.code, outcome, what);
          assert.equal(e.status, 409, what);
          return true;
        });
        const after = (await canon.getSession(s.sessionId))?.session;
        assert.equal(after?.state, state, what);
        assert.equal(after?.tier, 'basic', what);
        assert.equal((await canon.listRecords(s.sessionId)).length, recordsBefore, what);
      }
      await settle();
      for (const row of await canon.listUnfinished()) await lifecycle.terminate(alice, row.session.sessionId); // stay under quota
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

  it('acts on the current state when it moved between the ownership check and the lock', async () => {
    // A session launched elsewhere: this replica reads it to check the owner, and another replica changes
    // it right after that read.
    const other = replica();
    const staleOnce = async (sessionId: string, change: () => Promise<unknown>): Promise<void> => {
      const stale = await canon.getSession(sessionId);
      await change();
      const read = canon.getSession.bind(canon);
      canon.getSession = async (id) => {
        canon.getSession = read;
        return id === sessionId ? stale : read(id);
      };
    };
    const paused = await other.create(alice, 'basic');
    await staleOnce(paused.sessionId, () => other.pause(alice, paused.sessionId));
    const error = await lifecycle.pause(alice, paused.sessionId).catch((e: unknown) => e);
    assert.ok(error instanceof ApiError && error.code === 'ILLEGAL_TRANSITION');
    assert.deepEqual(error.details, { state: 'paused' }, 'the error names the state it really is in');

    const resumed = await other.create(alice, 'basic');
    await other.pause(alice, resumed.sessionId);
    await staleOnce(resumed.sessionId, () => other.resume(alice, resumed.sessionId));
    assert.equal((await lifecycle.pause(alice, resumed.sessionId)).state, 'paused');
  });

  it('acts on a session it launched without reading it, and on the current state when another replica moved it', async () => {
    const other = replica();
    const s = await lifecycle.create(alice, 'basic');
    const reads: string[] = [];
    const read = canon.getSession.bind(canon);
    canon.getSession = async (id) => {
      reads.push(id);
      return read(id);
    };
    // Someone else is refused from what this replica knows: not found, and nothing read or changed.
    const bob = { ...alice, userId: 'bob' };
    await rejectsWith(lifecycle.pause(bob, s.sessionId), 'SESSION_NOT_FOUND');
    await rejectsWith(lifecycle.terminate(bob, s.sessionId), 'SESSION_NOT_FOUND');
    assert.deepEqual(reads, []);
    assert.equal((await read(s.sessionId))?.session.state, 'active');
    assert.equal((await lifecycle.pause(alice, s.sessionId)).state, 'paused');
    assert.deepEqual(reads, [], 'the owner’s pause needed no read either');

    // Another replica resumed and paused it again: the state this one knows ("paused") still holds.
    await other.resume(alice, s.sessionId);
    await other.pause(alice, s.sessionId);
    // Now another replica resumes it: this one's pause starts from "paused", is refused by the
    // compare-and-set, reads the row and pauses from "active".
    await other.resume(alice, s.sessionId);
    reads.length = 0; // the other replica's own reads
    assert.equal((await lifecycle.pause(alice, s.sessionId)).state, 'paused');
    assert.deepEqual(reads, [s.sessionId]);
    const error = await lifecycle.pause(alice, s.sessionId).catch((e: unknown) => e);
    assert.ok(error instanceof ApiError && error.code === 'ILLEGAL_TRANSITION');
    assert.deepEqual(error.details, { state: 'paused' });

    // A tier change elsewhere replaced the desktop and kept the state: termination stops it where it is now.
    await lifecycle.resume(alice, s.sessionId);
    const before = (await read(s.sessionId))?.runtime;
    assert.ok(before);
    const now = { ...before, display: before.display + 50, port: before.port + 50 };
    await canon.transition({
      sessionId: s.sessionId,
      from: ['active'],
      to: 'active',
      action: 'tier.applied',
      actor: 'system:lifecycle',
      at: new Date(),
      runtime: now,
    });
    reads.length = 0;
    assert.equal((await lifecycle.terminate(alice, s.sessionId)).state, 'terminated');
    assert.deepEqual(runtime.stopped.at(-1), now);
    assert.deepEqual(reads, [], 'the termination started from the state it knew');
    // Once finished, it is forgotten: a second termination reads the row and is refused by its state.
    await rejectsWith(lifecycle.terminate(alice, s.sessionId), 'ILLEGAL_TRANSITION');
    assert.notEqual(reads.length, 0, 'read to be refused');
  });

  it('verifies its own half of the handshake at every transition: with Canon Memory silent, nothing is touched', async () => {
    const active = await lifecycle.create(alice, 'basic');
    const paused = await lifecycle.create(alice, 'basic');
    await lifecycle.pause(alice, paused.sessionId);
    const calls = runtime.calls.length;
    const ping = canon.ping.bind(canon);
    canon.ping = async () => false;
    try {
      await rejectsWith(lifecycle.pause(alice, active.sessionId), 'NOT_READY');
      await rejectsWith(lifecycle.resume(alice, paused.sessionId), 'NOT_READY');
      await rejectsWith(lifecycle.terminate(alice, active.sessionId), 'NOT_READY');
      await rejectsWith(lifecycle.changeTier(alice, active.sessionId, 'standard'), 'NOT_READY');
      await rejectsWith(lifecycle.create(alice, 'basic'), 'NOT_READY');
    } finally {
      canon.ping = ping;
    }
    assert.equal(runtime.calls.length, calls, 'the runtime was not touched');
    assert.equal((await canon.getSession(active.sessionId))?.session.state, 'active');
    assert.equal((await canon.getSession(paused.sessionId))?.session.state, 'paused');
  });

  it('fails a provisioning that does not come up in time, and releases what was started', async () => {
    make({ transitionTimeoutMs: 50 });
    const late = gate();
    runtime.hold.start = late.promise;
    const began = performance.now();
    await rejectsWith(lifecycle.create(alice, 'basic'), 'RUNTIME_FAILED');
    assert.ok(performance.now() - began < 1000, 'refused at the deadline, not when the runtime gives up');
    const [row] = await canon.listSessions(alice);
    assert.equal(row?.session.state, 'failed');
    assert.equal(row?.runtime, null);
    assert.match(row?.session.failureReason ?? '', /provisioning did not finish within 50 ms/);
    assert.equal(await canon.getUsage(row?.session.sessionId ?? ''), undefined, 'it never ran: no usage');
    // The runtime's start comes back after all: the desktop it brought up is stopped, not left running.
    assert.deepEqual(runtime.stopped, []);
    late.open();
    await eventually(() => runtime.stopped.length > 0, 'the late desktop is stopped');
    assert.deepEqual(runtime.stopped, runtime.started);
    assert.equal(runtime.status_, 'gone');
  });

  it('fails a provisioning the runtime gives up on, without stopping anything it did not return', async () => {
    runtime.fail.start = 'Xvnc exited';
    await rejectsWith(lifecycle.create(alice, 'basic'), 'RUNTIME_FAILED');
    const [row] = await canon.listSessions(alice);
    assert.equal(row?.session.state, 'failed');
    assert.match(row?.session.failureReason ?? '', /Xvnc exited/);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(runtime.calls, ['start']);
  });

  it('ends a session whose pause hangs in failed, with its desktop stopped', async () => {
    make({ transitionTimeoutMs: 50 });
    const s = await lifecycle.create(alice, 'basic');
    runtime.hold.pause = new Promise(() => undefined);
    await rejectsWith(lifecycle.pause(alice, s.sessionId), 'RUNTIME_FAILED');
    assert.equal((await canon.getSession(s.sessionId))?.session.state, 'failed');
    assert.ok(runtime.calls.includes('stop'));
  });

  it('ends a session whose resume hangs in failed within the deadline, its desktop stopped', async () => {
    make({ transitionTimeoutMs: 50 });
    const s = await lifecycle.create(alice, 'basic');
    await lifecycle.pause(alice, s.sessionId);
    runtime.hold.resume = new Promise(() => undefined);
    const began = performance.now();
    await rejectsWith(lifecycle.resume(alice, s.sessionId), 'RUNTIME_FAILED');
    assert.ok(performance.now() - began < 1000);
    const row = await canon.getSession(s.sessionId);
    assert.equal(row?.session.state, 'failed');
    assert.match(row?.session.failureReason ?? '', /resume did not finish within 50 ms/);
    assert.equal(row?.runtime, null);
    assert.deepEqual(runtime.calls.slice(-2), ['resume', 'stop']);
    assert.deepEqual(
      (await canon.listRecords(s.sessionId))
        .filter((r) => r.entity === 'session')
        .map((r) => r.action)
        .slice(-2),
      ['resume.started', 'resume.failed'],
    );
  });

  it('ends a session whose termination hangs in failed within the deadline; ending it again terminates it', async () => {
    make({ transitionTimeoutMs: 50 });
    const s = await lifecycle.create(alice, 'basic');
    now += 5 * 60_000;
    runtime.hold.stop = new Promise(() => undefined);
    const began = performance.now();
    await rejectsWith(lifecycle.terminate(alice, s.sessionId), 'RUNTIME_FAILED');
    // The stop is asked twice (termination, then the failure's own release), each bounded by the deadline.
    assert.ok(performance.now() - began < 1000);
    const failed = await canon.getSession(s.sessionId);
    assert.equal(failed?.session.state, 'failed');
    assert.match(failed?.session.failureReason ?? '', /termination did not finish within 50 ms/);
    const usage = await canon.getUsage(s.sessionId);
    assert.equal(usage?.resourceConsumption.activeSeconds, 300, 'it ran five minutes: its usage is kept');

    delete runtime.hold.stop;
    now += 60_000;
    assert.equal((await lifecycle.terminate(alice, s.sessionId)).state, 'terminated');
    assert.deepEqual(await canon.getUsage(s.sessionId), usage, 'the record written at the failure stands');
    const usageRecords = (await canon.listRecords(s.sessionId)).filter((r) => r.entity === 'usage');
    assert.equal(usageRecords.length, 1, 'exactly one usage record');
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

  it('gives back what billing admitted when Genesis writes nothing: a quota refusal, locks out of reach', async () => {
    const admitted: string[] = [];
    const abandoned: string[] = [];
    const billing: SessionGate = {
      tierAvailability: (_p, _t, allowed) => ({ allowed }),
      admitGenesis: async (_p, _t, sessionId, defaults) => {
        admitted.push(sessionId);
        return defaults;
      },
      genesisAbandoned: async (sessionId) => void abandoned.push(sessionId),
      admitTierChange: async (_p, _r, _t, defaults) => defaults,
      admitResume: async () => undefined,
      usageCost: async () => 0,
    };
    const unreachable: SessionLocks = {
      withLock: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      },
      close: async () => undefined,
    };
    const withGate = (deps: Partial<LifecycleDeps>) =>
      new SessionLifecycle({
        canon,
        runtime,
        events: new InProcessSessionEventBus(),
        locks: new InProcessSessionLocks(),
        policy: { ...DEFAULT_POLICY, limits: { ...DEFAULT_POLICY.limits, maxLiveSessionsPerUser: 1 } },
        logger: pino({ level: 'silent' }),
        clock: () => new Date(now),
        gate: billing,
        ...deps,
      });
    const kept = await withGate({}).create(alice, 'basic');
    await rejectsWith(withGate({}).create(alice, 'basic'), 'QUOTA_EXCEEDED');
    await assert.rejects(withGate({ locks: unreachable }).create(alice, 'basic'), /ECONNREFUSED/);
    assert.equal(admitted.length, 3);
    assert.deepEqual(abandoned, admitted.slice(1), 'both launches that wrote nothing, and only those');
    assert.deepEqual(
      (await canon.listSessions(alice)).map((r) => r.session.sessionId),
      [kept.sessionId],
    );
    assert.deepEqual(runtime.calls, ['start'], 'no desktop started for either');
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
