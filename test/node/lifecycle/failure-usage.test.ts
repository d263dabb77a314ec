// A session that ran and then failed is billed for the time it ran: its SuperCoreUsage record is written with
// the move to `failed`, once, as Termination writes it. Real SQLite Canon Memory, a fake runtime and clock.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { alice, lifecycleRig, rejectsWith, type LifecycleRig } from './lifecycle-fixture.ts';

const MIN = 60_000;

describe('usage of sessions that fail', () => {
  let rig: LifecycleRig;
  beforeEach(async () => {
    rig = await lifecycleRig();
  });
  afterEach(async () => {
    await rig.cleanup();
  });

  const usageRecords = async (sessionId: string) =>
    (await rig.canon.listRecords(sessionId)).filter((r) => r.entity === 'usage');

  it('writes the record of a session that ran and then failed, as Termination would have, exactly once', async () => {
    const { lifecycle, canon, runtime } = rig;
    const ended = await lifecycle.create(alice, 'basic');
    const failing = await lifecycle.create(alice, 'basic');
    rig.clock.now += 10 * MIN;
    await lifecycle.terminate(alice, ended.sessionId);
    runtime.fail.pause = 'the desktop is no longer running';
    await rejectsWith(lifecycle.pause(alice, failing.sessionId), 'RUNTIME_FAILED');

    const reference = await canon.getUsage(ended.sessionId);
    const usage = await canon.getUsage(failing.sessionId);
    assert.ok(reference && usage, 'both sessions have their usage record');
    assert.equal(usage.startTime, failing.createdAt, 'from the moment it became active');
    assert.equal(usage.endTime, new Date(rig.clock.now).toISOString(), 'to the moment it failed');
    assert.equal(usage.resourceConsumption.activeSeconds, 600);
    assert.deepEqual(usage.resourceConsumption, reference.resourceConsumption);
    assert.ok(usage.cost > 0);
    assert.equal(usage.cost, reference.cost, 'priced as the same time ended by Termination');
    assert.equal(usage.canonRecord, true);
    const [record] = await usageRecords(failing.sessionId);
    const failedRecord = (await canon.listRecords(failing.sessionId)).find((r) => r.toState === 'failed');
    assert.equal(record?.canonTimestamp, failedRecord?.canonTimestamp, 'written with the failure');

    // Closing the failed session later (e.g. before an erasure) writes no second record.
    delete runtime.fail.pause;
    rig.clock.now += 5 * MIN;
    assert.equal((await lifecycle.terminate(alice, failing.sessionId)).state, 'terminated');
    assert.deepEqual(await canon.getUsage(failing.sessionId), usage);
    assert.equal((await usageRecords(failing.sessionId)).length, 1);
  });

  it('writes none for a session that failed before it ever ran (a zero one if it is then ended)', async () => {
    const { lifecycle, canon, runtime } = rig;
    runtime.fail.start = 'Xvnc exited';
    await rejectsWith(lifecycle.create(alice, 'basic'), 'RUNTIME_FAILED');
    const [row] = await canon.listSessions(alice);
    assert.equal(row?.session.state, 'failed');
    const sessionId = row?.session.sessionId ?? assert.fail('no session');
    assert.equal(await canon.getUsage(sessionId), undefined);
    assert.deepEqual(await usageRecords(sessionId), []);

    rig.clock.now += MIN;
    await lifecycle.terminate(alice, sessionId);
    const usage = await canon.getUsage(sessionId);
    assert.equal(usage?.cost, 0);
    assert.equal(usage?.resourceConsumption.activeSeconds, 0);
  });

  it('writes it when the watchdog gives up on a desktop and when reconcile finds a desktop gone', async () => {
    const { lifecycle, canon, runtime } = rig;
    const watched = await lifecycle.create(alice, 'basic');
    const vanished = await lifecycle.create(alice, 'basic');
    rig.clock.now += 2 * MIN;
    runtime.restart = async () => {
      throw new Error('Xvnc exited');
    };
    await rejectsWith(
      lifecycle.restartStuck(watched.sessionId, 'no answer', 'system:watchdog', {
        attempts: 1,
        backoffMs: 0,
      }),
      'RUNTIME_FAILED',
    );
    assert.equal((await canon.getSession(watched.sessionId))?.session.state, 'failed');
    // `restarting` is not billed: the record ends its active time where the restart began.
    assert.equal((await canon.getUsage(watched.sessionId))?.resourceConsumption.activeSeconds, 120);

    rig.clock.now += MIN;
    runtime.status_ = 'gone';
    await lifecycle.reconcile();
    const row = await canon.getSession(vanished.sessionId);
    assert.equal(row?.session.state, 'failed');
    assert.match(row?.session.failureReason ?? '', /ended while the adapter was down/);
    const usage = await canon.getUsage(vanished.sessionId);
    assert.equal(usage?.resourceConsumption.activeSeconds, 180);
    assert.equal(usage?.endTime, new Date(rig.clock.now).toISOString());
    assert.equal((await usageRecords(vanished.sessionId)).length, 1);
  });

  it('still fails the session when its usage cannot be computed (reconciliation reports the gap)', async () => {
    const { canon, runtime } = rig;
    const lifecycle = rig.make(
      {},
      {
        gate: {
          tierAvailability: (_p, _t, allowed) => ({ allowed }),
          admitGenesis: async (_p, _t, _id, defaults) => defaults,
          genesisAbandoned: async () => undefined,
          admitTierChange: async (_p, _r, _t, defaults) => defaults,
          admitResume: async () => undefined,
          usageCost: async () => {
            throw new Error('billing store unreachable');
          },
        },
      },
    );
    const s = await lifecycle.create(alice, 'basic');
    rig.clock.now += MIN;
    runtime.fail.pause = 'the desktop is no longer running';
    await rejectsWith(lifecycle.pause(alice, s.sessionId), 'RUNTIME_FAILED');
    assert.equal((await canon.getSession(s.sessionId))?.session.state, 'failed', 'not left pausing');
    assert.equal(await canon.getUsage(s.sessionId), undefined);
  });
});
