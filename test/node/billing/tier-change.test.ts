// Mid-session tier changes through the lifecycle with billing at its door (real SQLite Canon Memory and
// ledger, a fake clock): allowed from Active and Paused, recorded in Canon Memory, refused for the
// subscription, the balance or the quota with nothing changed, serialised with other transitions, applied by
// a runtime that can resize, and billed per period at the tier in force (the straddling period at the dearer).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { AllocatedResources, TierId } from '../../../protocol/session.ts';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import { periodPrice } from '../../../backend-adapter/billing/pricing.ts';
import type { RuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { billingRig, FakeRuntime, type BillingRig } from './billing-fixture.ts';

const MIN = 60_000;
const alice: Principal = { userId: 'alice', tenantId: 'civic-commons', subscription: 'enterprise' };
/** One minute at the list rate (civic-commons has no discount). */
const minute = (tier: TierId, kind: 'active' | 'paused' = 'active'): number => {
  const t = findTier(tier);
  assert.ok(t);
  return periodPrice(kind === 'active' ? t.microNexCoinPerHour : t.storageMicroNexCoinPerHour, MIN, 0);
};

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

/** A runtime that can resize: a new place for the desktop, like a new pod on the kept disk. */
class ResizingRuntime extends FakeRuntime {
  readonly resized: Array<{ tier: TierId; resources: AllocatedResources }> = [];
  failNext = false;
  gate: Promise<void> | undefined;
  async resize(handle: RuntimeHandle, tier: TierId, resources: AllocatedResources): Promise<RuntimeHandle> {
    await this.gate;
    if (this.failNext) throw new Error('no node has room for the new pod');
    this.resized.push({ tier, resources });
    return { ...handle, port: handle.port + 1 };
  }
}

describe('tier change while running', () => {
  let rig: BillingRig;
  afterEach(async () => {
    await rig.cleanup();
  });

  it('Active basic → pro: recorded in Canon Memory, resources and allocation follow, billed per period at the tier in force', async () => {
    rig = await billingRig();
    await rig.ledger.credit(alice, 1_000_000_000, 'fund');
    const s = await rig.lifecycle.create(alice, 'basic');
    rig.advance(2 * MIN + 30_000); // periods 0, 1 basic; period 2 straddles the change
    const changed = await rig.lifecycle.changeTier(alice, s.sessionId, 'pro');
    assert.equal(changed.state, 'active');
    assert.equal(changed.tier, 'pro');
    assert.deepEqual(changed.resources, findTier('pro')?.resources);
    const records = await rig.backend.canon.listRecords(s.sessionId);
    const record = records.find((r) => r.action === 'tier.changed');
    assert.ok(record, 'a Canon record of the change');
    assert.equal(record.handshake, '55-45-17');
    assert.equal(record.actor, 'alice');
    assert.deepEqual([record.fromState, record.toState], ['active', 'active']);
    assert.deepEqual(
      { tier: record.payload.tier, fromTier: record.payload.fromTier },
      { tier: 'pro', fromTier: 'basic' },
    );
    const allocations = await rig.backend.canon.listAllocations(alice);
    assert.deepEqual(
      allocations.map((a) => [a.tier, a.releasedAt === null]).sort(),
      [
        ['basic', false],
        ['pro', true],
      ].sort(),
      'the basic allocation released, the pro one held',
    );
    rig.advance(2 * MIN);
    await rig.lifecycle.terminate(alice, s.sessionId);
    await rig.metering.meterSession(s.sessionId);
    const charges = await rig.store.chargesOf(s.sessionId);
    assert.deepEqual(
      charges.map((c) => [c.period, c.tier, c.amount, c.status]),
      [
        [0, 'basic', minute('basic'), 'charged'],
        [1, 'basic', minute('basic'), 'charged'],
        [2, 'pro', minute('pro'), 'charged'], // straddles: the dearer tier
        [3, 'pro', minute('pro'), 'charged'],
        [4, 'pro', minute('pro'), 'charged'],
      ],
    );
    const usage = await rig.backend.canon.getUsage(s.sessionId);
    assert.equal(usage?.cost, 2 * minute('basic') + 3 * minute('pro'), 'SuperCoreUsage cost = ledger');
    const deducted = (await rig.ledger.listEntries(alice)).filter((e) => e.kind === 'deduct');
    assert.equal(
      deducted.reduce((a, e) => a + e.amount, 0),
      usage?.cost,
    );
  });

  it('Paused: the storage rate follows the new tier; a downgrade bills the straddling period at the dearer tier', async () => {
    rig = await billingRig();
    await rig.ledger.credit(alice, 1_000_000_000, 'fund');
    const s = await rig.lifecycle.create(alice, 'ultra');
    rig.advance(MIN); // period 0 active (ultra)
    await rig.lifecycle.pause(alice, s.sessionId);
    rig.advance(MIN + 10_000); // period 1 paused ultra; period 2 straddles
    const changed = await rig.lifecycle.changeTier(alice, s.sessionId, 'basic');
    assert.deepEqual([changed.state, changed.tier], ['paused', 'basic']);
    rig.advance(MIN + 50_000); // to the end of period 3
    await rig.lifecycle.terminate(alice, s.sessionId);
    await rig.metering.meterSession(s.sessionId);
    const charges = await rig.store.chargesOf(s.sessionId);
    assert.deepEqual(
      charges.map((c) => [c.period, c.kind, c.tier, c.amount]),
      [
        [0, 'active', 'ultra', minute('ultra')],
        [1, 'paused', 'ultra', minute('ultra', 'paused')],
        [2, 'paused', 'ultra', minute('ultra', 'paused')],
        [3, 'paused', 'basic', minute('basic', 'paused')],
      ],
    );
  });

  it('SuperCoreUsage resource consumption is split at the change: each Active interval at the tier in force, none while Paused', async () => {
    rig = await billingRig();
    await rig.ledger.credit(alice, 1_000_000_000, 'fund');
    const s = await rig.lifecycle.create(alice, 'basic');
    rig.advance(90_000); // 90 s Active on basic
    await rig.lifecycle.changeTier(alice, s.sessionId, 'pro');
    rig.advance(30_000); // 30 s Active on pro
    await rig.lifecycle.pause(alice, s.sessionId);
    rig.advance(60_000); // 60 s Paused on pro: storage only
    await rig.lifecycle.changeTier(alice, s.sessionId, 'standard');
    rig.advance(45_000); // 45 s Paused on standard
    await rig.lifecycle.resume(alice, s.sessionId);
    rig.advance(20_000); // 20 s Active on standard
    await rig.lifecycle.terminate(alice, s.sessionId);
    const usage = await rig.backend.canon.getUsage(s.sessionId);
    const res = (tier: TierId): AllocatedResources => {
      const r = findTier(tier)?.resources;
      assert.ok(r);
      return r;
    };
    assert.deepEqual(usage?.resourceConsumption, {
      activeSeconds: 140,
      pausedSeconds: 105,
      cpuMillicoreSeconds:
        90 * res('basic').cpuMillicores + 30 * res('pro').cpuMillicores + 20 * res('standard').cpuMillicores,
      memoryMiBSeconds:
        90 * res('basic').memoryMiB + 30 * res('pro').memoryMiB + 20 * res('standard').memoryMiB,
    });
    // Not the 140 s at the final tier's resources, as it was computed before.
    assert.notEqual(usage?.resourceConsumption.cpuMillicoreSeconds, 140 * res('standard').cpuMillicores);
  });

  it('refuses what the subscription, the balance or the quota does not allow, and changes nothing', async () => {
    rig = await billingRig({ lifecyclePolicy: {} });
    const price = minute('basic');
    await rig.ledger.credit(alice, 2 * price + 10, 'fund'); // covers basic's reserve, not pro's
    const s = await rig.lifecycle.create(alice, 'basic');
    const before = await rig.backend.canon.listRecords(s.sessionId);

    const low = await rejectsWith(rig.lifecycle.changeTier(alice, s.sessionId, 'pro'), 'BALANCE_TOO_LOW');
    assert.equal(low.status, 402);
    const free: Principal = { ...alice, subscription: 'free' };
    await rejectsWith(rig.lifecycle.changeTier(free, s.sessionId, 'pro'), 'TIER_NOT_ALLOWED');
    await rejectsWith(rig.lifecycle.changeTier(alice, s.sessionId, 'nope'), 'UNKNOWN_TIER');
    const bob: Principal = { ...alice, userId: 'bob' };
    await rejectsWith(rig.lifecycle.changeTier(bob, s.sessionId, 'standard'), 'SESSION_NOT_FOUND');

    const after = await rig.backend.canon.listRecords(s.sessionId);
    assert.equal(after.length, before.length, 'no record written');
    assert.equal((await rig.lifecycle.get(alice, s.sessionId)).tier, 'basic');
    assert.deepEqual(rig.runtime.calls, [`start ${s.sessionId}`], 'the runtime was not asked');
  });

  it('refuses a change the quota cannot hold (checked atomically with the change)', async () => {
    rig = await billingRig({
      lifecyclePolicy: {
        limits: {
          maxLiveSessionsPerUser: 3,
          maxCpuMillicoresPerUser: 16_000,
          maxMemoryMiBPerUser: 64 * 1024,
          maxLiveSessionsPerTenant: 20,
          maxCpuMillicoresPerTenant: 3_000, // basic fits, ultra does not
          maxMemoryMiBPerTenant: 256 * 1024,
          cluster: {
            maxCpuMillicores: 500_000,
            maxMemoryMiB: 1 << 20,
            maxStorageGiB: 10_240,
            maxSessions: 50,
          },
        },
      },
    });
    await rig.ledger.credit(alice, 1_000_000_000, 'fund');
    const s = await rig.lifecycle.create(alice, 'basic');
    const error = await rejectsWith(rig.lifecycle.changeTier(alice, s.sessionId, 'ultra'), 'QUOTA_EXCEEDED');
    assert.equal((error.details as { scope: string }).scope, 'tenant-cpu');
    const row = await rig.backend.canon.getSession(s.sessionId);
    assert.equal(row?.session.tier, 'basic');
    const allocations = await rig.backend.canon.listAllocations(alice);
    assert.deepEqual(
      allocations.map((a) => [a.tier, a.releasedAt]),
      [['basic', null]],
      'the old allocation is still held',
    );
  });

  it('only from Active or Paused; the same tier is answered unchanged', async () => {
    rig = await billingRig();
    await rig.ledger.credit(alice, 1_000_000_000, 'fund');
    const s = await rig.lifecycle.create(alice, 'basic');
    assert.equal((await rig.lifecycle.changeTier(alice, s.sessionId, 'basic')).tier, 'basic');
    await rig.lifecycle.terminate(alice, s.sessionId);
    const error = await rejectsWith(
      rig.lifecycle.changeTier(alice, s.sessionId, 'pro'),
      'ILLEGAL_TRANSITION',
    );
    assert.equal(error.status, 409);
  });
});

describe('tier change on a runtime that resizes', () => {
  let rig: BillingRig;
  afterEach(async () => {
    await rig.cleanup();
  });

  const rigWith = async (runtime: ResizingRuntime): Promise<BillingRig> => {
    const r = await billingRig({ runtime });
    await r.ledger.credit(alice, 1_000_000_000, 'fund');
    return r;
  };

  it('applies the new resources, records where the desktop now runs, and pauses a paused one again', async () => {
    const runtime = new ResizingRuntime();
    rig = await rigWith(runtime);
    const s = await rig.lifecycle.create(alice, 'basic');
    await rig.lifecycle.pause(alice, s.sessionId);
    const changed = await rig.lifecycle.changeTier(alice, s.sessionId, 'standard');
    assert.equal(changed.state, 'paused');
    assert.deepEqual(runtime.resized, [{ tier: 'standard', resources: findTier('standard')?.resources }]);
    assert.equal(runtime.calls.filter((c) => c === 'pause').length, 2, 'paused again after the new pod');
    const records = await rig.backend.canon.listRecords(s.sessionId);
    assert.deepEqual(
      records.slice(-2).map((r) => r.action),
      ['tier.changed', 'tier.applied'],
    );
    assert.equal((await rig.backend.canon.getSession(s.sessionId))?.runtime?.port, 2);
  });

  it('answers 409 TRANSITION_IN_PROGRESS to another change while the resize is in flight', async () => {
    const runtime = new ResizingRuntime();
    rig = await rigWith(runtime);
    const s = await rig.lifecycle.create(alice, 'basic');
    let release: () => void = () => undefined;
    runtime.gate = new Promise((r) => (release = r));
    const change = rig.lifecycle.changeTier(alice, s.sessionId, 'pro');
    await new Promise((r) => setTimeout(r, 20));
    await rejectsWith(rig.lifecycle.pause(alice, s.sessionId), 'TRANSITION_IN_PROGRESS');
    await rejectsWith(rig.lifecycle.changeTier(alice, s.sessionId, 'ultra'), 'TRANSITION_IN_PROGRESS');
    release();
    assert.equal((await change).tier, 'pro');
  });

  it('a resize that fails ends the session as failed with its reason, resources released', async () => {
    const runtime = new ResizingRuntime();
    rig = await rigWith(runtime);
    const s = await rig.lifecycle.create(alice, 'basic');
    runtime.failNext = true;
    const error = await rejectsWith(rig.lifecycle.changeTier(alice, s.sessionId, 'pro'), 'RUNTIME_FAILED');
    assert.match(error.message, /no node has room/);
    const row = await rig.backend.canon.getSession(s.sessionId);
    assert.equal(row?.session.state, 'failed');
    assert.match(row?.session.failureReason ?? '', /no node has room/);
    assert.ok(
      (await rig.backend.canon.listAllocations(alice)).every((a) => a.releasedAt !== null),
      'nothing held',
    );
  });
});
