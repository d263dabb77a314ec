// Property: for any session history (pauses, hibernation, tier changes while Active or Paused, termination or
// failure) metered at random moments
// by one or two replicas, with the wallet failing before or after applying a charge and processes crashing
// between "charged" and "recorded", the ledger ends up holding exactly the metered usage priced by the rates:
// to the micro-NexCoin, each period once, each charge split 80/20 to the last micro-NexCoin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SessionState, TierId } from '../../../protocol/session.ts';
import { HANDSHAKE } from '../../../protocol/handshake.ts';
import { DEFAULT_BILLING_POLICY } from '../../../backend-adapter/billing/billing-policy.ts';
import { Metering } from '../../../backend-adapter/billing/metering.ts';
import { chargeKey } from '../../../backend-adapter/billing/pricing.ts';
import { Reconciler } from '../../../backend-adapter/billing/reconciliation.ts';
import { TenantRegistry } from '../../../backend-adapter/tenants/tenant-registry.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import type { LedgerWallet } from '../../../backend-adapter/wallet/ledger-wallet.ts';
import {
  WalletUnavailableError,
  type DeductRequest,
  type ListEntriesOptions,
  type RefundRequest,
  type Wallet,
  type WalletOwner,
  type WalletResult,
} from '../../../backend-adapter/wallet/wallet.ts';
import { useTestDatabase } from '../canon/postgres-fixture.ts';
import { postgresBackend, silent, sqliteBackend, T0, type Backend } from './billing-fixture.ts';

type Fault = 'fail-before' | 'fail-after' | 'crash-before' | 'crash-after';

/** The real ledger, made to fail its next deduction in a chosen way. A crash never returns: the process died. */
class FaultyWallet implements Wallet {
  readonly kind = 'faulty';
  fault: Fault | undefined;
  private signal: () => void = () => undefined;
  crashed: Promise<void>;
  constructor(private readonly inner: Wallet) {
    this.crashed = new Promise((r) => (this.signal = r));
  }
  balance(owner: WalletOwner): Promise<number> {
    return this.inner.balance(owner);
  }
  async deduct(request: DeductRequest): Promise<WalletResult> {
    const fault = this.fault;
    this.fault = undefined;
    if (fault === 'fail-before') throw new WalletUnavailableError('injected: no answer');
    if (fault === 'crash-before') {
      this.signal();
      return new Promise<never>(() => undefined);
    }
    const result = await this.inner.deduct(request);
    if (fault === 'fail-after') throw new WalletUnavailableError('injected: the answer was lost');
    if (fault === 'crash-after') {
      this.signal();
      return new Promise<never>(() => undefined);
    }
    return result;
  }
  refund(request: RefundRequest): Promise<WalletResult> {
    return this.inner.refund(request);
  }
  listEntries(owner: WalletOwner, options?: ListEntriesOptions) {
    return this.inner.listEntries(owner, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Chunk {
  activeMs: number;
  pausingMs: number;
  pausedMs: number;
  hibernatedMs: number;
  resumingMs: number;
  /** A tier change during this chunk's Active or Paused time, `atFraction` of the way into it. */
  tierChange: { to: TierId; during: 'active' | 'paused'; atFraction: number; ratesFirst: boolean } | null;
}
interface History {
  tenant: string;
  tier: TierId;
  provisioningMs: number;
  chunks: Chunk[];
  end: 'terminated' | 'failed';
  terminatingMs: number;
}
type CycleMode = 'ok' | 'replicas' | Fault;
interface Plan {
  history: History;
  cycles: Array<{ atFraction: number; mode: CycleMode }>;
  settleDelayMs: number;
  initialBalance: number;
}

const MIN = 60_000;
const chunk = fc.record({
  activeMs: fc.integer({ min: 0, max: 9 * MIN }),
  pausingMs: fc.integer({ min: 0, max: 3_000 }),
  pausedMs: fc.integer({ min: 0, max: 9 * MIN }),
  hibernatedMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4 * MIN })),
  resumingMs: fc.integer({ min: 0, max: 3_000 }),
  tierChange: fc.option(
    fc.record({
      to: fc.constantFrom<TierId>('basic', 'standard', 'pro', 'ultra', 'gpu'),
      during: fc.constantFrom<'active' | 'paused'>('active', 'paused'),
      atFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      // Whether billing fixed the new tier's rates before the change (the gate does) or finds it unpriced.
      ratesFirst: fc.boolean(),
    }),
    { nil: null },
  ),
});
const history: fc.Arbitrary<History> = fc.record({
  tenant: fc.constantFrom('puabo', 'n3xus-core', 'canon-archive', 'civic-commons', 'unlisted-tenant'),
  tier: fc.constantFrom<TierId>('basic', 'standard', 'pro', 'ultra', 'gpu'),
  provisioningMs: fc.integer({ min: 0, max: 5_000 }),
  chunks: fc.array(chunk, { minLength: 1, maxLength: 4 }),
  end: fc.constantFrom<'terminated' | 'failed'>('terminated', 'failed'),
  terminatingMs: fc.integer({ min: 0, max: 2_000 }),
});
const plan: fc.Arbitrary<Plan> = fc.record({
  history,
  cycles: fc.array(
    fc.record({
      atFraction: fc.double({ min: 0, max: 1.2, noNaN: true }),
      mode: fc.constantFrom<CycleMode>(
        'ok',
        'ok',
        'replicas',
        'fail-before',
        'fail-after',
        'crash-before',
        'crash-after',
      ),
    }),
    { maxLength: 24 },
  ),
  settleDelayMs: fc.constantFrom(0, 5_000),
  initialBalance: fc.oneof(fc.constant(1_000_000_000), fc.integer({ min: 0, max: 300_000 })),
});

interface Step {
  at: number;
  to: SessionState;
  /** A tier change (same state): the tier in force from `at`. */
  tier?: TierId;
  ratesFirst?: boolean;
}

/** The states the session passes through, with when, and its tier changes: the history written out. */
function transitionsOf(h: History): Step[] {
  const out: Step[] = [];
  let t = T0;
  let tier = h.tier;
  let state: SessionState = 'requested';
  const go = (to: SessionState, after: number): void => {
    t += after;
    out.push({ at: t, to });
    state = to;
  };
  /** `ms` of time in the current state, with the chunk's tier change inside it if it falls there. */
  const stay = (ms: number, c: Chunk, during: 'active' | 'paused'): void => {
    const change = c.tierChange;
    if (change && change.during === during && change.to !== tier) {
      const into = Math.floor(change.atFraction * ms);
      out.push({ at: t + into, to: state, tier: change.to, ratesFirst: change.ratesFirst });
      tier = change.to;
    }
    t += ms;
  };
  go('provisioning', 0);
  go('active', h.provisioningMs);
  h.chunks.forEach((c, i) => {
    stay(c.activeMs, c, 'active');
    if (i === h.chunks.length - 1) return;
    go('pausing', 0);
    go('paused', c.pausingMs);
    stay(c.pausedMs, c, 'paused');
    if (c.hibernatedMs > 0) {
      go('hibernated', 0);
      t += c.hibernatedMs;
    }
    go('resuming', 0);
    go('active', c.resumingMs);
  });
  if (h.end === 'terminated') {
    go('terminating', 0);
    go('terminated', h.terminatingMs);
  } else {
    go('failed', 0);
  }
  return out;
}

/**
 * Written apart from billing/pricing.ts on purpose: minute by minute, by interval overlap. A period with any
 * Active time is billed at the dearest Active rate among the tiers in force during that time; otherwise at the
 * dearest storage rate among the tiers in force while it was Paused.
 */
function oracle(h: History, transitions: Step[], periodMs: number) {
  const discount = BigInt(TenantRegistry.load().termsFor(h.tenant).discountBasisPoints);
  const price = (rate: number): number => {
    const n = BigInt(rate) * BigInt(periodMs) * (10_000n - discount);
    const d = 3_600_000n * 10_000n;
    return Number(n / d + (n % d === 0n ? 0n : 1n));
  };
  const rates = (id: TierId) => {
    const tier = findTier(id);
    assert.ok(tier);
    return { active: price(tier.microNexCoinPerHour), paused: price(tier.storageMicroNexCoinPerHour) };
  };
  const intervals: Array<{ from: number; to: number; kind: 'active' | 'paused'; tier: TierId }> = [];
  let tier = h.tier;
  for (let i = 0; i < transitions.length - 1; i++) {
    const cur = transitions[i];
    const next = transitions[i + 1];
    if (!cur || !next) continue;
    if (cur.tier) tier = cur.tier;
    const kind =
      cur.to === 'active' ? 'active' : cur.to === 'paused' || cur.to === 'hibernated' ? 'paused' : undefined;
    if (kind && next.at > cur.at) intervals.push({ from: cur.at, to: next.at, kind, tier });
  }
  const start = transitions.find((t) => t.to === 'active')?.at ?? 0;
  const lastEnd = Math.max(start, ...intervals.map((i) => i.to));
  let total = 0;
  const periods: number[] = [];
  for (let k = 0; start + k * periodMs < lastEnd; k++) {
    const ps = start + k * periodMs;
    const pe = ps + periodMs;
    const hits = intervals.filter((i) => i.from < pe && i.to > ps);
    const active = hits.filter((i) => i.kind === 'active');
    if (active.length > 0) total += Math.max(...active.map((i) => rates(i.tier).active));
    else if (hits.length > 0) total += Math.max(...hits.map((i) => rates(i.tier).paused));
    else continue;
    periods.push(k);
  }
  return { total, periods };
}

async function check(backend: Backend, p: Plan): Promise<void> {
  const h = p.history;
  const clock = { now: T0 };
  const date = () => new Date(clock.now);
  const registry = TenantRegistry.load();
  const policy = { ...DEFAULT_BILLING_POLICY, settleDelayMs: p.settleDelayMs, balanceTtlMs: 0 };
  const owner = { tenantId: h.tenant, userId: `u-${Math.random().toString(36).slice(2, 10)}` };
  const sessionId = `s-${Math.random().toString(36).slice(2, 12)}`;
  const funding: LedgerWallet = await backend.openLedger(date);
  if (p.initialBalance > 0) await funding.credit(owner, p.initialBalance, `fund:${sessionId}`);

  /** A replica: its own connections to the ledger and billing records (a process of its own). */
  const replica = async () => {
    const wallet = new FaultyWallet(await backend.openLedger(date));
    const store = await backend.openStore();
    return {
      wallet,
      store,
      metering: new Metering({
        canon: backend.canon,
        wallet,
        store,
        registry,
        policy,
        logger: silent,
        clock: date,
      }),
    };
  };
  const opened: Array<{ wallet: Wallet; store: { closeDb(): Promise<void> } }> = [];
  const replicaOpened = async () => {
    const r = await replica();
    opened.push(r);
    return r;
  };
  try {
    let a = await replicaOpened();
    const b = await replicaOpened();

    const transitions = transitionsOf(h);
    const endAt = transitions[transitions.length - 1]?.at ?? T0;
    await backend.canon.createSession(
      {
        session: {
          sessionId,
          userId: owner.userId,
          tenantId: owner.tenantId,
          tier: h.tier,
          resources: findTier(h.tier)?.resources ?? {
            cpuMillicores: 0,
            memoryMiB: 0,
            storageGiB: 0,
            gpus: 0,
            display: { width: 1, height: 1 },
          },
          state: 'requested',
          createdAt: new Date(T0).toISOString(),
          canonTimestamp: new Date(T0).toISOString(),
          handshake: HANDSHAKE,
        },
        runtime: null,
        lastActivityAt: new Date(T0).toISOString(),
      },
      owner.userId,
    );
    await a.metering.register({ sessionId, tenantId: owner.tenantId, userId: owner.userId, tier: h.tier });

    type Event = { at: number; order: number; transition?: Step; cycle?: CycleMode };
    // In time order; at the same instant transitions (in their own order) come before cycles.
    const steps: Event[] = [
      ...transitions.map((t, i): Event => ({ at: t.at, order: i, transition: t })),
      ...p.cycles.map((c, i): Event => ({
        at: T0 + Math.round(c.atFraction * (endAt - T0 + MIN)),
        order: transitions.length + i,
        cycle: c.mode,
      })),
    ].sort((x, y) => x.at - y.at || x.order - y.order);
    let state: SessionState = 'requested';
    for (const step of steps) {
      clock.now = Math.max(clock.now, step.at);
      if (step.transition) {
        const { to, tier } = step.transition;
        if (tier && step.transition.ratesFirst) {
          await a.metering.addTier(
            { sessionId, tenantId: owner.tenantId, userId: owner.userId, tier: h.tier },
            tier,
          );
        }
        const resources = tier && findTier(tier)?.resources;
        const moved = await backend.canon.transition({
          sessionId,
          from: [state],
          to,
          action: tier ? 'tier.changed' : `test.${to}`,
          actor: 'test',
          at: new Date(step.at),
          ...(tier && resources ? { tierChange: { tier, resources } } : {}),
        });
        assert.ok(moved, `${state} → ${to}${tier ? ` (tier ${tier})` : ''}`);
        if (tier) assert.equal(moved.session.tier, tier);
        state = to;
        continue;
      }
      const mode = step.cycle;
      if (mode === 'ok') await a.metering.runCycle();
      else if (mode === 'replicas') await Promise.all([a.metering.runCycle(), b.metering.runCycle()]);
      else if (mode === 'fail-before' || mode === 'fail-after') {
        a.wallet.fault = mode;
        await a.metering.runCycle();
      } else if (mode) {
        a.wallet.fault = mode;
        await Promise.race([a.metering.runCycle(), a.wallet.crashed]);
        a = await replicaOpened(); // the process died; another starts
      }
    }

    // Long after the end, with money enough: a healthy replica finishes what is left.
    clock.now = endAt + 10 * MIN;
    await funding.credit(owner, 1_000_000_000_000, `top-up:${sessionId}`);
    const healthy = await replicaOpened();
    for (let i = 0; i < 3; i++) await healthy.metering.runCycle();

    const expected = oracle(h, transitions, policy.periodMs);
    const deducts = (await funding.listEntries(owner)).filter((e) => e.kind === 'deduct');
    assert.equal(
      deducts.reduce((s, e) => s + e.amount, 0),
      expected.total,
      'ledger total = metered usage × rates',
    );
    assert.deepEqual(
      deducts.map((e) => e.idempotencyKey).sort(),
      expected.periods.map((k) => chargeKey(sessionId, k)).sort(),
      'each billable period charged exactly once',
    );
    for (const e of deducts) {
      assert.equal(
        e.distribution.reduce((s, x) => s + x.amount, 0),
        e.amount,
        '80/20 shares sum to the charge',
      );
      assert.deepEqual(e.distribution, registry.distribute(h.tenant, e.amount));
    }
    const row = await backend.canon.getSession(sessionId);
    assert.ok(row);
    const records = await backend.canon.listRecords(sessionId);
    assert.equal(
      await healthy.metering.usageCost(row, records, date()),
      expected.total,
      'usage cost = ledger',
    );
    const charges = await healthy.store.chargesOf(sessionId);
    assert.ok(charges.every((c) => c.status === 'charged'));
    const billing = await healthy.store.get(sessionId);
    assert.equal(billing?.finalCost, expected.total);
    assert.ok(billing?.closedAt);
    const audit = await funding.audit();
    assert.equal(audit.unbalancedTransactions, 0);
    assert.equal(audit.walletBalanceMismatches, 0);
    assert.equal(
      await funding.balance(owner),
      p.initialBalance + 1_000_000_000_000 - expected.total,
      'the wallet lost exactly the total',
    );
    const report = await new Reconciler({
      canon: backend.canon,
      store: healthy.store,
      wallet: funding,
      logger: silent,
      clock: date,
    }).run({
      from: new Date(T0 - MIN).toISOString(),
      to: new Date(clock.now + MIN).toISOString(),
    });
    assert.deepEqual(
      report.differences.filter((d) => d.sessionId === sessionId && d.kind !== 'missing-usage'),
      [],
    );
  } finally {
    for (const r of opened) {
      await r.wallet.close().catch(() => undefined);
      await r.store.closeDb().catch(() => undefined);
    }
  }
}

describe('metering, property-based (fast-check)', () => {
  it('SQLite: ledger = metered usage × rates (tier changes included), once per period, through faults, crashes and two replicas', async () => {
    const backend = await sqliteBackend();
    try {
      await fc.assert(
        fc.asyncProperty(plan, (p) => check(backend, p)),
        { numRuns: 60 },
      );
    } finally {
      await backend.cleanup();
    }
  });

  describe('PostgreSQL', () => {
    const databaseUrl = useTestDatabase();
    it('PostgreSQL: the same property with truly concurrent replicas', async () => {
      const backend = await postgresBackend(databaseUrl());
      try {
        await fc.assert(
          fc.asyncProperty(plan, (p) => check(backend, p)),
          { numRuns: 12 },
        );
      } finally {
        await backend.cleanup();
      }
    });
  });
});
