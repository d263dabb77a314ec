import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Tier } from '../../../protocol/session.ts';
import { ConfigError, loadConfig } from '../../../backend-adapter/config.ts';
import { TIER_CATALOGUE } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { TimeoutEnforcer } from '../../../backend-adapter/timeouts/timeout-enforcer.ts';
import { alice, lifecycleRig, type LifecycleRig } from '../lifecycle/lifecycle-fixture.ts';
import { startTestAdapter } from '../../support/adapter-fixture.ts';

const MINUTE = 60_000;
const configured = (env: NodeJS.ProcessEnv) => loadConfig({ DATA_DIR: '/tmp/x', ...env }).policy.tierTimeouts;

describe('per-tier idle timeout and maximum session length (configuration)', () => {
  it('defaults to the catalogue’s values for every tier', () => {
    const table = configured({});
    for (const t of TIER_CATALOGUE) {
      assert.deepEqual(table?.[t.id], {
        idleMinutes: t.idleTimeoutMinutes,
        maxSessionMinutes: t.maxSessionMinutes,
      });
    }
  });

  it('overrides only the tiers TIER_IDLE_TIMEOUT_MINUTES and TIER_MAX_SESSION_MINUTES name', () => {
    const table = configured({
      TIER_IDLE_TIMEOUT_MINUTES: 'basic=45, pro=10',
      TIER_MAX_SESSION_MINUTES: 'basic=90',
    });
    assert.deepEqual(table?.basic, { idleMinutes: 45, maxSessionMinutes: 90 });
    assert.deepEqual(table?.pro, { idleMinutes: 10, maxSessionMinutes: 24 * 60 });
    assert.deepEqual(table?.standard, { idleMinutes: 60, maxSessionMinutes: 12 * 60 });
  });

  it('refuses values that are not whole minutes of a known tier, naming the variable', () => {
    for (const [name, value] of [
      ['TIER_IDLE_TIMEOUT_MINUTES', 'basic=0'],
      ['TIER_IDLE_TIMEOUT_MINUTES', 'mega=30'],
      ['TIER_MAX_SESSION_MINUTES', 'basic=1.5'],
      ['TIER_MAX_SESSION_MINUTES', 'basic'],
      ['TIER_MAX_SESSION_MINUTES', 'basic=28800000'], // milliseconds by mistake
    ] as const) {
      assert.throws(
        () => configured({ [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${name} must look like`),
        value,
      );
    }
    assert.throws(() => configured({ TIER_MAX_SESSION_MINUTES: 'basic=60,basic=90' }), /names basic twice/);
  });
});

describe('configured timeouts take effect', () => {
  let rig: LifecycleRig;
  afterEach(async () => {
    await rig?.cleanup();
  });

  /** A lifecycle and its timeout pass, both with the configuration `env` gives. */
  const withConfig = async (env: NodeJS.ProcessEnv) => {
    rig = await lifecycleRig();
    const tierTimeouts = configured(env);
    const lifecycle = rig.make({ tierTimeouts });
    const enforcer = new TimeoutEnforcer({
      lifecycle,
      canon: rig.canon,
      tierTimeouts,
      intervalMs: 3_600_000,
      logger: pino({ level: 'silent' }),
    });
    return { lifecycle, pass: () => enforcer.runPass() };
  };
  const stateOf = async (id: string) => (await rig.canon.getSession(id))?.session.state;
  const lastActor = async (id: string) => (await rig.canon.listRecords(id)).at(-1)?.actor;

  it('a shorter maximum length ends a basic session at 90 minutes instead of 8 hours', async () => {
    const { lifecycle, pass } = await withConfig({ TIER_MAX_SESSION_MINUTES: 'basic=90' });
    const s = await lifecycle.create(alice, 'basic');
    rig.clock.now += 89 * MINUTE;
    await rig.canon.touchActivity(s.sessionId, new Date(rig.clock.now)); // in use: not idle
    await pass();
    assert.equal(await stateOf(s.sessionId), 'active');
    rig.clock.now += 2 * MINUTE;
    await rig.canon.touchActivity(s.sessionId, new Date(rig.clock.now));
    await pass();
    assert.equal(await stateOf(s.sessionId), 'terminated');
    assert.equal(await lastActor(s.sessionId), 'system:max-session-length');
  });

  it('a longer maximum length keeps a basic session past the catalogue’s 8 hours', async () => {
    const { lifecycle, pass } = await withConfig({ TIER_MAX_SESSION_MINUTES: 'basic=600' });
    const s = await lifecycle.create(alice, 'basic');
    rig.clock.now += 8 * 60 * MINUTE + MINUTE;
    await rig.canon.touchActivity(s.sessionId, new Date(rig.clock.now));
    await pass();
    assert.equal(await stateOf(s.sessionId), 'active');
    rig.clock.now += 2 * 60 * MINUTE;
    await pass();
    assert.equal(await stateOf(s.sessionId), 'terminated');
  });

  it('a longer idle timeout keeps an idle basic session active past the catalogue’s 30 minutes', async () => {
    const { lifecycle, pass } = await withConfig({ TIER_IDLE_TIMEOUT_MINUTES: 'basic=45' });
    const s = await lifecycle.create(alice, 'basic');
    rig.clock.now += 31 * MINUTE;
    await pass();
    assert.equal(await stateOf(s.sessionId), 'active');
    rig.clock.now += 15 * MINUTE;
    await pass();
    assert.equal(await stateOf(s.sessionId), 'paused');
    assert.equal(await lastActor(s.sessionId), 'system:idle-timeout');
  });

  it('the user’s idle preference still applies below the configured bound, never above it', async () => {
    const { lifecycle, pass } = await withConfig({ TIER_IDLE_TIMEOUT_MINUTES: 'basic=45' });
    const bob = { ...alice, userId: 'bob' };
    await rig.canon.putPreferences(alice, { idleTimeoutMinutes: 120 }, new Date(rig.clock.now));
    await rig.canon.putPreferences(bob, { idleTimeoutMinutes: 10 }, new Date(rig.clock.now));
    const long = await lifecycle.create(alice, 'basic');
    const short = await lifecycle.create(bob, 'basic');
    rig.clock.now += 11 * MINUTE;
    await pass();
    assert.deepEqual([await stateOf(long.sessionId), await stateOf(short.sessionId)], ['active', 'paused']);
    rig.clock.now += 35 * MINUTE;
    await pass();
    assert.equal(await stateOf(long.sessionId), 'paused', 'a preference above the tier’s bound is capped');
  });
});

describe('GET /api/v1/tiers with configured timeouts (real adapter)', () => {
  it('shows each tier with the timeouts this deployment enforces', async () => {
    const t = await startTestAdapter({
      TIER_IDLE_TIMEOUT_MINUTES: 'basic=45',
      TIER_MAX_SESSION_MINUTES: 'pro=60',
    });
    try {
      const token = await t.login('alice');
      const tiers = ((await t.api('/api/v1/tiers', { token })).body as { tiers: Tier[] }).tiers;
      const byId = (id: string) => tiers.find((x) => x.id === id);
      assert.deepEqual([byId('basic')?.idleTimeoutMinutes, byId('basic')?.maxSessionMinutes], [45, 480]);
      assert.deepEqual([byId('pro')?.idleTimeoutMinutes, byId('pro')?.maxSessionMinutes], [120, 60]);
      const report = (await t.api('/api/v1/handshake', { token })).body as {
        checks: Array<{ id: string; evidence: string }>;
      };
      assert.match(
        report.checks.find((c) => c.id === 'session-timeout')?.evidence ?? '',
        /basic 45\/480 min, standard 60\/720 min, pro 120\/60 min/,
      );
    } finally {
      await t.close();
    }
  });
});
