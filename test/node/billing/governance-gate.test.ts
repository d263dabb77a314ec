// The lifecycle with billing and governance at its doors (real SQLite Canon Memory and ledger, a runtime that
// starts nothing, a fake clock): the billing check at Genesis and resume, low-balance warning and pause,
// founding tenants' rights, phase governance and the concurrent-session ceilings.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { PHASE_TABLE } from '../../../backend-adapter/governance/deployment-phase.ts';
import { DEFAULT_POLICY } from '../../../backend-adapter/lifecycle/lifecycle-policy.ts';
import { TIER_CATALOGUE, findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { billingRig, type BillingRig } from './billing-fixture.ts';

const MIN = 60_000;
const user = (userId: string, tenantId: string, extra: Partial<Principal> = {}): Principal => ({
  userId,
  tenantId,
  subscription: 'enterprise',
  ...extra,
});

async function rejectsWith(work: Promise<unknown>, code: string): Promise<ApiError> {
  let caught: ApiError | undefined;
  await assert.rejects(work, (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, code, e.message);
    caught = e;
    return true;
  });
  if (!caught) throw new Error('unreachable');
  return caught;
}

describe('billing at Genesis and while running', () => {
  let rig: BillingRig;
  afterEach(async () => {
    await rig.cleanup();
  });

  it('refuses Genesis with BALANCE_TOO_LOW and provisions nothing, writes nothing', async () => {
    rig = await billingRig();
    const alice = user('alice', 'civic-commons');
    const price = 8_334; // basic, one minute, no discount
    await rig.ledger.credit(alice, 2 * price - 1, 'fund');
    const error = await rejectsWith(rig.lifecycle.create(alice, 'basic'), 'BALANCE_TOO_LOW');
    assert.equal(error.status, 402);
    assert.deepEqual(error.details, {
      balanceMicroNexCoin: 2 * price - 1,
      outstandingMicroNexCoin: 0,
      requiredMicroNexCoin: 2 * price,
      periodSeconds: 60,
    });
    assert.deepEqual(rig.runtime.calls, [], 'no desktop was started');
    assert.deepEqual(await rig.backend.canon.listSessions(alice), [], 'no session was written');
    assert.deepEqual(await rig.store.listOpen(), [], 'nothing registered for metering');
    assert.equal(await rig.ledger.balance(alice), 2 * price - 1, 'nothing charged');
    // One micro-NexCoin more and it starts.
    await rig.ledger.credit(alice, 1, 'fund-2');
    const s = await rig.lifecycle.create(alice, 'basic');
    assert.equal(s.state, 'active');
    assert.equal((await rig.store.get(s.sessionId))?.prices.active, price);
  });

  it('counts the user’s other running sessions and what they owe', async () => {
    rig = await billingRig();
    const bob = user('bob', 'civic-commons');
    await rig.ledger.credit(bob, 4 * 8_334, 'fund');
    await rig.lifecycle.create(bob, 'basic'); // needs 2 periods of itself
    await rejectsWith(rig.lifecycle.create(bob, 'standard'), 'BALANCE_TOO_LOW'); // 2 × (8,334 + 16,667)
    await rig.lifecycle.create(bob, 'basic'); // 2 × (8,334 + 8,334) fits exactly
  });

  it('charges every minute once, shows the cost so far, and bills the usage record exactly what the ledger took', async () => {
    rig = await billingRig();
    const founder = user('ada', 'puabo'); // founding: −20 %
    await rig.ledger.credit(founder, 10_000_000, 'fund');
    const s = await rig.lifecycle.create(founder, 'pro');
    const active = Math.ceil((2_500_000 * 0.8) / 60); // 33,334
    const storage = Math.ceil((250_000 * 0.8) / 60); // 3,334
    rig.advance(2 * MIN + 10_000);
    await rig.metering.runCycle();
    await rig.metering.runCycle(); // a second cycle at the same moment changes nothing
    assert.equal(await rig.ledger.balance(founder), 10_000_000 - 2 * active);
    const [listed] = await rig.metering.withCosts(await rig.lifecycle.list(founder));
    assert.equal(listed?.costSoFarMicroNexCoin, 3 * active, 'two minutes charged, the third started');
    await rig.lifecycle.pause(founder, s.sessionId);
    rig.advance(3 * MIN);
    await rig.metering.runCycle();
    const final = await rig.lifecycle.terminate(founder, s.sessionId);
    assert.equal(final.state, 'terminated');
    await rig.metering.meterSession(s.sessionId);
    const usage = await rig.backend.canon.getUsage(s.sessionId);
    // Minutes 0–1 active, minute 2 active (paused 10 s in), minutes 3–5 paused (3 min paused = 3 started).
    assert.equal(usage?.cost, 3 * active + 3 * storage);
    const entries = (await rig.ledger.listEntries(founder)).filter((e) => e.kind === 'deduct');
    assert.equal(
      entries.reduce((a, e) => a + e.amount, 0),
      usage?.cost,
    );
    for (const e of entries) {
      assert.equal(e.category, 'compute');
      assert.equal(e.module, 'v-supercore');
      assert.match(e.description, /^v-SuperCore pro - 1 min (active|paused) \(session /);
      assert.deepEqual(
        e.distribution.map((d) => d.account),
        ['tenant:puabo:creator-pool', 'n3xus:platform-treasury'],
      );
    }
    assert.equal((await rig.store.get(s.sessionId))?.finalCost, usage?.cost);
    const report = await rig.reconciler.run({
      from: new Date(rig.clock.now - 3_600_000).toISOString(),
      to: new Date(rig.clock.now + 1).toISOString(),
    });
    assert.deepEqual(report.differences, []);
    assert.equal(report.matched, 1);
  });

  it('prices a termination from the terms it registered at launch; a replica that did not launch it reads them', async () => {
    rig = await billingRig();
    const ada = user('ada', 'civic-commons');
    await rig.ledger.credit(ada, 10_000_000, 'fund');
    const here = await rig.lifecycle.create(ada, 'basic');
    const elsewhere = await rig.lifecycle.create(ada, 'basic');
    // As if `elsewhere` had been launched by another replica: this one never saw its registration.
    rig.metering.forgetRegistration(elsewhere.sessionId);
    rig.advance(2 * MIN + 10_000);
    const read: string[] = [];
    const get = rig.store.get.bind(rig.store);
    rig.store.get = (sessionId) => {
      read.push(sessionId);
      return get(sessionId);
    };
    await rig.lifecycle.terminate(ada, here.sessionId);
    assert.deepEqual(read, [], 'no read of the row this replica registered');
    await rig.lifecycle.terminate(ada, elsewhere.sessionId);
    assert.deepEqual(read, [elsewhere.sessionId]);
    const basic = 8_334; // civic-commons, one minute, no discount
    for (const s of [here, elsewhere])
      assert.equal((await rig.backend.canon.getUsage(s.sessionId))?.cost, 3 * basic, 'three started minutes');
  });

  it('reserves for the user’s other running sessions at their registered prices, reading only rows it did not register', async () => {
    rig = await billingRig();
    const ada = user('ada', 'civic-commons');
    await rig.ledger.credit(ada, 10_000_000, 'fund');
    const first = await rig.lifecycle.create(ada, 'basic');
    rig.advance(MIN + 10_000);
    await rig.metering.runCycle(); // its first charge releases its hold: from now on it counts as running
    const read: string[][] = [];
    const getMany = rig.store.getMany.bind(rig.store);
    rig.store.getMany = (ids) => {
      read.push([...ids]);
      return getMany(ids);
    };
    const reserved: Array<number | undefined> = [];
    const hold = rig.store.hold.bind(rig.store);
    rig.store.hold = (req) => {
      reserved.push(req.running.get(first.sessionId));
      return hold(req);
    };
    await rig.lifecycle.create(ada, 'basic');
    assert.deepEqual(read, [], 'no read of rows this replica registered');
    // As if `first` had been launched by another replica.
    rig.metering.forgetRegistration(first.sessionId);
    await rig.lifecycle.create(ada, 'basic');
    assert.deepEqual(read, [[first.sessionId]]);
    const basic = 8_334; // civic-commons, one minute, no discount; two periods in reserve
    assert.deepEqual(reserved, [2 * basic, 2 * basic], 'the same reserve either way');
  });

  it('warns on a low balance, then pauses as system:billing, never running unpaid; resume needs the money', async () => {
    rig = await billingRig({ policy: { warnPeriods: 5, reservePeriods: 2 } });
    const carol = user('carol', 'civic-commons');
    const price = 8_334;
    await rig.ledger.credit(carol, 4 * price + 100, 'fund');
    const s = await rig.lifecycle.create(carol, 'basic');
    rig.advance(MIN);
    let report = await rig.metering.runCycle(); // one minute charged: 3 left → warned
    assert.deepEqual(report.warned, ['civic-commons/carol']);
    assert.deepEqual(report.paused, []);
    assert.equal(rig.tracked.filter((e) => e.event === 'supercore.billing.low-balance').length, 1);
    rig.advance(MIN);
    report = await rig.metering.runCycle(); // 2 left + 100: still covers 2 periods
    assert.deepEqual(report.paused, []);
    assert.deepEqual(report.warned, [], 'warned once, not every cycle');
    rig.advance(MIN);
    report = await rig.metering.runCycle(); // 1 left + 100: below 2 periods → paused
    assert.deepEqual(report.paused, [s.sessionId]);
    const row = await rig.backend.canon.getSession(s.sessionId);
    assert.equal(row?.session.state, 'paused');
    const records = await rig.backend.canon.listRecords(s.sessionId);
    assert.ok(records.some((r) => r.toState === 'paused' && r.actor === 'system:billing'));
    assert.equal(rig.tracked.filter((e) => e.event === 'supercore.billing.paused').length, 1);
    // The minute it was paused in is still paid for: the balance covered it.
    rig.advance(MIN);
    await rig.metering.runCycle();
    assert.equal((await rig.store.chargesOf(s.sessionId)).filter((c) => c.status !== 'charged').length, 0);
    await rejectsWith(rig.lifecycle.resume(carol, s.sessionId), 'BALANCE_TOO_LOW');
    assert.equal((await rig.backend.canon.getSession(s.sessionId))?.session.state, 'paused');
    await rig.ledger.credit(carol, 10 * price, 'top-up');
    assert.equal((await rig.lifecycle.resume(carol, s.sessionId)).state, 'active');
  });

  it('pauses at once when a charge is declined, and keeps it owed until it is paid', async () => {
    rig = await billingRig({ policy: { reservePeriods: 1, warnPeriods: 1 } });
    const dan = user('dan', 'civic-commons');
    await rig.ledger.credit(dan, 8_334, 'fund');
    const s = await rig.lifecycle.create(dan, 'basic');
    // Another module spends the wallet meanwhile.
    await rig.ledger.deduct({
      owner: dan,
      amount: 8_000,
      idempotencyKey: 'elsewhere',
      description: 'another module',
      category: 'compute',
      module: 'v-supercore',
      distribution: [{ shareId: 'x', account: 'other:module', amount: 8_000 }],
    });
    rig.advance(MIN);
    const report = await rig.metering.runCycle();
    assert.equal(report.declined, 1);
    assert.deepEqual(report.paused, [s.sessionId]);
    assert.equal(await rig.store.outstanding(dan), 8_334);
    await rejectsWith(rig.lifecycle.create(dan, 'basic'), 'BALANCE_TOO_LOW');
    await rig.ledger.credit(dan, 100_000, 'top-up');
    await rig.metering.runCycle();
    assert.equal(await rig.store.outstanding(dan), 0);
    const charges = await rig.store.chargesOf(s.sessionId);
    assert.equal(charges[0]?.status, 'charged');
    assert.equal(charges[0]?.attempts, 2);
  });

  it('keeps an ended session’s metering open while its last charge is declined, and closes it once paid', async () => {
    rig = await billingRig({ policy: { reservePeriods: 1, warnPeriods: 1 } });
    const erin = user('erin', 'civic-commons');
    await rig.ledger.credit(erin, 8_334, 'fund');
    const s = await rig.lifecycle.create(erin, 'basic');
    rig.advance(MIN + 10_000);
    await rig.metering.runCycle(); // the first minute, paid
    await rig.lifecycle.terminate(erin, s.sessionId);
    await rig.metering.meterSession(s.sessionId); // the second, started minute: nothing left to pay it
    assert.equal(await rig.store.outstanding(erin), 8_334);
    assert.equal((await rig.store.get(s.sessionId))?.closedAt, null, 'still owed: metering stays open');
    await rig.ledger.credit(erin, 8_334, 'top-up');
    await rig.metering.meterSession(s.sessionId);
    assert.equal(await rig.store.outstanding(erin), 0);
    const closed = await rig.store.get(s.sessionId);
    assert.ok(closed?.closedAt, 'closed once every period is charged');
    assert.equal(closed?.finalCost, 2 * 8_334);
  });
});

describe('tenant governance', () => {
  let rig: BillingRig;
  afterEach(async () => {
    await rig.cleanup();
  });

  it('gives founding tenants early access to earlyAccess tiers and tells others why not', async () => {
    rig = await billingRig({ phase: '3.5' });
    const founder = user('f', 'v-suite');
    const other = user('o', 'edge-collective');
    for (const p of [founder, other])
      await rig.ledger.credit(p, 100_000_000, `fund:${p.tenantId}/${p.userId}`);
    const gpu = findTier('gpu');
    assert.equal(gpu?.earlyAccess, true);
    const forOther = rig.lifecycle.tiersFor(other, TIER_CATALOGUE).find((t) => t.id === 'gpu');
    assert.equal(forOther?.allowed, false);
    assert.match(forOther?.notAllowedReason ?? '', /early access for founding tenants/);
    assert.equal(rig.lifecycle.tiersFor(founder, TIER_CATALOGUE).find((t) => t.id === 'gpu')?.allowed, true);
    await rejectsWith(rig.lifecycle.create(other, 'gpu'), 'TIER_NOT_ALLOWED');
    assert.equal((await rig.lifecycle.create(founder, 'gpu')).tier, 'gpu');
    assert.equal(rig.runtime.calls.filter((c) => c.startsWith('start')).length, 1);
  });

  it('charges founding tenants their discounted rate', async () => {
    rig = await billingRig();
    assert.equal(rig.metering.termsFor('basic', 'n3xus-core').discountBasisPoints, 2_500);
    assert.equal(rig.metering.termsFor('basic', 'puabo').discountBasisPoints, 2_000);
    assert.equal(rig.metering.termsFor('basic', 'not-in-registry').discountBasisPoints, 0);
  });

  it('applies a tenant’s custom configuration (allowed tiers) and custom limits', async () => {
    rig = await billingRig();
    const student = user('s', 'academy'); // allowedTiers basic, standard; one live session per user
    await rig.ledger.credit(student, 100_000_000, 'fund');
    const pro = rig.lifecycle.tiersFor(student, TIER_CATALOGUE).find((t) => t.id === 'pro');
    assert.equal(pro?.allowed, false);
    assert.match(pro?.notAllowedReason ?? '', /N3XUS Academy\) has not enabled the Pro tier/);
    await rejectsWith(rig.lifecycle.create(student, 'pro'), 'TIER_NOT_ALLOWED');
    await rig.lifecycle.create(student, 'basic');
    const quota = await rejectsWith(rig.lifecycle.create(student, 'basic'), 'QUOTA_EXCEEDED');
    assert.deepEqual(quota.details, { scope: 'user-sessions', limit: 1, current: 1 });
    // What GET /quota shows this user is the limit Genesis enforced: the tenant's own.
    assert.equal(rig.lifecycle.limitsFor(student).maxLiveSessionsPerUser, 1);
  });

  it('keeps the last slots of the ceiling for priority tenants when capacity is short', async () => {
    // A ceiling of 20 with 10 % reserved: ordinary tenants may take 18, priority tenants all 20.
    rig = await billingRig({
      lifecyclePolicy: {
        limits: {
          ...DEFAULT_POLICY.limits,
          maxLiveSessionsPerUser: 100,
          maxLiveSessionsPerTenant: 100,
          cluster: { ...DEFAULT_POLICY.limits.cluster, maxSessions: 20 },
        },
      },
    });
    const ordinary = [user('o1', 'edge-collective'), user('o2', 'civic-commons'), user('o3', 'unlisted')];
    const founding = user('f1', 'n3xus-core');
    for (const p of [...ordinary, founding])
      await rig.ledger.credit(p, 1_000_000_000, `fund:${p.tenantId}/${p.userId}`);
    for (let i = 0; i < 18; i++) await rig.lifecycle.create(ordinary[i % 3] as Principal, 'basic');
    const refused = await rejectsWith(
      rig.lifecycle.create(ordinary[0] as Principal, 'basic'),
      'QUOTA_EXCEEDED',
    );
    assert.deepEqual(refused.details, { scope: 'cluster-sessions', limit: 18, current: 18 });
    await rig.lifecycle.create(founding, 'basic');
    await rig.lifecycle.create(founding, 'basic');
    const full = await rejectsWith(rig.lifecycle.create(founding, 'basic'), 'QUOTA_EXCEEDED');
    assert.deepEqual(full.details, { scope: 'cluster-sessions', limit: 20, current: 20 });
    assert.equal(rig.runtime.calls.filter((c) => c.startsWith('start')).length, 20);
  });
});

describe('phase governance', () => {
  let rig: BillingRig;
  afterEach(async () => {
    await rig?.cleanup();
  });

  it('declares the ceilings 100 / 1,000 / 10,000 from DEPLOYMENT_PHASE, and refuses an unknown phase', () => {
    for (const [phase, ceiling] of [
      ['3.0', 100],
      ['3.5', 1_000],
      ['4.0', 10_000],
    ] as const) {
      // The ResourceQuota's pods raised above every phase: the phase's ceiling is the one that binds.
      const config = loadConfig({ DEPLOYMENT_PHASE: phase, DATA_DIR: '/tmp/x', CLUSTER_QUOTA_PODS: '20000' });
      assert.equal(config.billing.phase, phase);
      assert.equal(config.policy.limits.cluster.maxSessions, ceiling);
      assert.equal(PHASE_TABLE[phase].maxConcurrentSessions, ceiling);
      // With the spec's ResourceQuota (pods 50) that is lower than every phase's, the quota binds.
      assert.equal(
        loadConfig({ DEPLOYMENT_PHASE: phase, DATA_DIR: '/tmp/x' }).policy.limits.cluster.maxSessions,
        50,
      );
    }
    assert.equal(loadConfig({ DATA_DIR: '/tmp/x' }).billing.phase, '3.0');
    assert.throws(
      () => loadConfig({ DEPLOYMENT_PHASE: '5.0' }),
      /DEPLOYMENT_PHASE must be one of 3.0, 3.5, 4.0/,
    );
  });

  it('refuses GPU tiers before phase 3.5, for founding tenants too, with the reason', async () => {
    rig = await billingRig({ phase: '3.0' });
    const founder = user('f', 'n3xus-core');
    await rig.ledger.credit(founder, 1_000_000_000, 'fund');
    const gpu = rig.lifecycle.tiersFor(founder, TIER_CATALOGUE).find((t) => t.id === 'gpu');
    assert.equal(gpu?.allowed, false);
    assert.equal(
      gpu?.notAllowedReason,
      'GPU tiers arrive in deployment phase 3.5; this deployment is phase 3.0.',
    );
    const e = await rejectsWith(rig.lifecycle.create(founder, 'gpu'), 'TIER_NOT_ALLOWED');
    assert.deepEqual(e.details, { tier: 'gpu', phase: '3.0' });
    assert.deepEqual(rig.runtime.calls, []);
  });

  it('enforces the phase 3.0 ceiling of 100 concurrent sessions at Genesis', async () => {
    const limits = loadConfig({ DEPLOYMENT_PHASE: '3.0', DATA_DIR: '/tmp/x', CLUSTER_QUOTA_PODS: '500' })
      .policy.limits;
    rig = await billingRig({ phase: '3.0', lifecyclePolicy: { limits } });
    // n3xus-core: founding (priority), up to 200 live sessions and 10 per user.
    const users = Array.from({ length: 11 }, (_, i) => user(`u${i}`, 'n3xus-core'));
    for (const p of users) await rig.ledger.credit(p, 1_000_000_000, `fund:${p.tenantId}/${p.userId}`);
    for (let i = 0; i < 100; i++) await rig.lifecycle.create(users[Math.floor(i / 10)] as Principal, 'basic');
    const e = await rejectsWith(rig.lifecycle.create(users[10] as Principal, 'basic'), 'QUOTA_EXCEEDED');
    assert.deepEqual(e.details, { scope: 'cluster-sessions', limit: 100, current: 100 });
  });

  it("enforces the spec's ResourceQuota pods: 50 where it is below the phase 3.0 ceiling, nothing written", async () => {
    const limits = loadConfig({ DEPLOYMENT_PHASE: '3.0', DATA_DIR: '/tmp/x' }).policy.limits;
    rig = await billingRig({ phase: '3.0', lifecyclePolicy: { limits } });
    const users = Array.from({ length: 6 }, (_, i) => user(`u${i}`, 'n3xus-core'));
    for (const p of users) await rig.ledger.credit(p, 1_000_000_000, `fund:${p.tenantId}/${p.userId}`);
    for (let i = 0; i < 50; i++) await rig.lifecycle.create(users[Math.floor(i / 10)] as Principal, 'basic');
    const last = users[5] as Principal;
    const e = await rejectsWith(rig.lifecycle.create(last, 'basic'), 'QUOTA_EXCEEDED');
    assert.deepEqual(e.details, { scope: 'cluster-sessions', limit: 50, current: 50 });
    assert.deepEqual(await rig.backend.canon.listSessions(last), []);
    assert.deepEqual(await rig.backend.canon.listAllocations(last), []);
    assert.equal(rig.runtime.calls.length, 50, 'no desktop was started for the refused launch');
  });
});
