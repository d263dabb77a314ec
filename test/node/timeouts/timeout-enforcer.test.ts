import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { TimeoutEnforcer } from '../../../backend-adapter/timeouts/timeout-enforcer.ts';
import { alice, eventually, gate, lifecycleRig, type LifecycleRig } from '../lifecycle/lifecycle-fixture.ts';

// Long enough that the real timer never fires during a test: passes run only when the test says.
const INTERVAL = 60_000;

/**
 * The enforcer's own health — what the 45 "Session timeout enforcement" check reports — on a real lifecycle over
 * SQLite, on a test clock.
 */
describe('timeout enforcer health', () => {
  let rig: LifecycleRig;
  let now: number;
  let enforcer: TimeoutEnforcer;

  beforeEach(async () => {
    rig = await lifecycleRig();
    now = 1_000_000;
    enforcer = new TimeoutEnforcer({
      lifecycle: rig.lifecycle,
      canon: rig.canon,
      intervalMs: INTERVAL,
      logger: pino({ level: 'silent' }),
      clock: () => now,
    });
  });
  afterEach(async () => {
    enforcer.stop();
    await rig.cleanup();
  });

  it('is not healthy before it starts, nor after it stops', async () => {
    assert.deepEqual(enforcer.status(), {
      ok: false,
      evidence: 'the timeout enforcer is not running (never ran)',
    });
    enforcer.start();
    await enforcer.runPass();
    enforcer.stop();
    now += 30_000;
    assert.deepEqual(enforcer.status(), {
      ok: false,
      evidence: 'the timeout enforcer is not running (last pass 30.0 s ago)',
    });
  });

  it('is healthy while passes complete within two intervals, and reports the silence after that', async () => {
    enforcer.start();
    now += 90_000;
    assert.deepEqual(enforcer.status(), {
      ok: true,
      evidence: 'started 90.0 s ago, first pass due every 60.0 s',
    });
    now += 60_000;
    assert.deepEqual(enforcer.status(), {
      ok: false,
      evidence: 'no pass completed in the 150.0 s since start, more than two intervals (every 60.0 s)',
    });
    await enforcer.runPass();
    now += 120_000;
    assert.deepEqual(enforcer.status(), {
      ok: true,
      evidence: 'last pass completed 120.0 s ago (every 60.0 s)',
    });
    now += 1;
    assert.equal(enforcer.status().ok, false);
  });

  it('reports a pass that hangs (here: a runtime pause that does not return)', async () => {
    const s = await rig.lifecycle.create(alice, 'basic');
    rig.clock.now += 31 * 60_000; // idle past basic's 30 minutes: the pass pauses it
    const hold = gate();
    rig.runtime.hold.pause = hold.promise;
    enforcer.start();
    const pass = enforcer.runPass();
    await eventually(
      async () => (await rig.canon.getSession(s.sessionId))?.session.state === 'pausing',
      'pausing',
    );
    assert.equal(enforcer.runPass(), pass, 'a pass due while one runs is not started twice');
    now += 150_000;
    assert.deepEqual(enforcer.status(), {
      ok: false,
      evidence:
        'no pass completed in the 150.0 s since start, more than two intervals (every 60.0 s): a pass has been running for 150.0 s',
    });
    hold.open();
    await pass;
    assert.equal((await rig.canon.getSession(s.sessionId))?.session.state, 'paused');
    assert.equal(enforcer.status().ok, true);
  });

  it('reports passes that fail (here: Canon Memory closed), with the reason', async () => {
    enforcer.start();
    await enforcer.runPass();
    await rig.canon.close();
    now += 60_000;
    await enforcer.runPass(); // fails, never rejects
    now += 90_000;
    const status = enforcer.status();
    assert.equal(status.ok, false);
    assert.match(
      status.evidence,
      /^no pass completed for 150\.0 s, more than two intervals \(every 60\.0 s\): the last pass failed: Canon Memory is closed/,
    );
  });
});
