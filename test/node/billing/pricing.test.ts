import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CanonRecord } from '../../../backend-adapter/canon/canon-store.ts';
import {
  chargeablePeriods,
  classify,
  costOf,
  periodPrice,
  startedPeriods,
  timelineOf,
} from '../../../backend-adapter/billing/pricing.ts';
import { TenantRegistry } from '../../../backend-adapter/tenants/tenant-registry.ts';
import { splitExactly } from '../../../backend-adapter/wallet/wallet.ts';
import type { SessionState } from '../../../protocol/session.ts';

let seq = 0;
const T = Date.parse('2026-03-02T09:00:00.000Z');
const rec = (toState: SessionState, atMs: number): CanonRecord => ({
  seq: ++seq,
  recordId: String(seq),
  entity: 'session',
  entityId: 's',
  action: 'a',
  fromState: null,
  toState,
  actor: 'u',
  tenantId: 't',
  payload: {},
  canonTimestamp: new Date(T + atMs).toISOString(),
  handshake: '55-45-17',
});
const MIN = 60_000;

describe('pricing', () => {
  it('prices one period as the hourly rate prorated and discounted, rounded up, exactly', () => {
    assert.equal(periodPrice(500_000, MIN, 0), 8_334); // 8333.33… → up
    assert.equal(periodPrice(6_000_000, MIN, 0), 100_000); // exact
    assert.equal(periodPrice(500_000, MIN, 2_000), 6_667); // −20 %: 6666.67 → up
    assert.equal(periodPrice(0, MIN, 0), 0);
    assert.equal(periodPrice(1, MIN, 0), 1); // never free when the rate is not
    assert.equal(periodPrice(15_000_000, MIN, 10_000), 0); // a 100 % discount
    // Beyond 2^53 in the intermediate product: BigInt keeps it exact.
    assert.equal(periodPrice(9_000_000_000_000, 3_600_000, 0), 9_000_000_000_000);
    assert.throws(() => periodPrice(1.5, MIN, 0), RangeError);
    assert.throws(() => periodPrice(1, MIN, 10_001), RangeError);
  });

  it('property: a period never costs less than its exact prorated share, nor a micro-NexCoin more', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e12 }),
        fc.integer({ min: 1_000, max: 3_600_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (rate, period, discount) => {
          const price = BigInt(periodPrice(rate, period, discount));
          const exact = BigInt(rate) * BigInt(period) * BigInt(10_000 - discount); // × 1/(3.6e6 × 1e4)
          const d = 3_600_000n * 10_000n;
          assert.ok(price * d >= exact);
          assert.ok((price - 1n) * d < exact || price === 0n);
        },
      ),
    );
  });

  it('property: the 80/20 split always sums to the charge, each share within a micro-NexCoin of its ratio', () => {
    const registry = TenantRegistry.load();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom('puabo', 'x'),
        (amount, tenant) => {
          const shares = registry.distribute(tenant, amount);
          assert.equal(
            shares.reduce((a, s) => a + s.amount, 0),
            amount,
          );
          const creators = shares.find((s) => s.shareId === 'creators');
          const platform = shares.find((s) => s.shareId === 'platform');
          assert.equal(creators?.account, `tenant:${tenant}:creator-pool`);
          assert.equal(platform?.amount, Math.floor((amount * 2) / 10));
          assert.ok(Math.abs((creators?.amount ?? 0) - amount * 0.8) <= 1);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e15 }),
        fc
          .array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 8 })
          .filter((w) => w.some((x) => x > 0)),
        fc.nat(7),
        (amount, weights, remainder) => {
          const parts = splitExactly(amount, weights, remainder);
          assert.equal(
            parts.reduce((a, p) => a + p, 0),
            amount,
          );
          assert.ok(parts.every((p) => p >= 0));
        },
      ),
    );
  });

  it('bills every started period, Active at the tier rate, Paused-only at the storage rate', () => {
    const records = [
      rec('requested', -5_000),
      rec('provisioning', -5_000),
      rec('active', 0),
      rec('pausing', 90_000), // minute 1 has active time
      rec('paused', 91_000),
      rec('hibernated', 4 * MIN),
      rec('resuming', 5 * MIN + 30_000),
      rec('active', 5 * MIN + 31_000),
      rec('terminating', 6 * MIN + 1),
      rec('terminated', 6 * MIN + 500),
    ];
    const t = timelineOf(records);
    assert.equal(t.startMs, T);
    assert.equal(t.finished, true);
    assert.equal(startedPeriods(t, MIN, Infinity), 7); // 6 min + 1 ms: seven started minutes
    assert.deepEqual(classify(t, MIN, 0, 7), [
      'active',
      'active',
      'paused',
      'paused',
      'paused',
      'active',
      'active',
    ]);
    const terms = {
      tier: 'basic',
      activeMicroPerHour: 500_000,
      storageMicroPerHour: 50_000,
      discountBasisPoints: 0,
      periodMs: MIN,
    };
    assert.equal(costOf(t, terms, Date.now()), 4 * 8_334 + 3 * 834);
  });

  it('charges a live session only for periods that have ended; its cost so far includes the running one', () => {
    const t = timelineOf([rec('active', 0)]);
    assert.equal(t.open, true);
    const terms = {
      tier: 'basic',
      activeMicroPerHour: 500_000,
      storageMicroPerHour: 50_000,
      discountBasisPoints: 0,
      periodMs: MIN,
    };
    assert.equal(chargeablePeriods(t, MIN, T + 2 * MIN + 59_999), 2);
    assert.equal(startedPeriods(t, MIN, T + 2 * MIN + 59_999), 3);
    assert.equal(costOf(t, terms, T + 2 * MIN + 1), 3 * 8_334);
    assert.equal(costOf(t, terms, T), 0);
  });

  it('never runs time backwards when two replicas’ clocks disagree, and bills nothing before the first Active', () => {
    const t = timelineOf([
      rec('provisioning', 0),
      rec('active', 10_000),
      rec('pausing', 5_000),
      rec('paused', 70_000),
    ]);
    assert.deepEqual(
      t.intervals.map((i) => [i.from - T, i.to === Infinity ? 'open' : i.to - T, i.kind]),
      [[70_000, 'open', 'paused']],
    );
    const never = timelineOf([rec('requested', 0), rec('provisioning', 0), rec('failed', 3_000)]);
    assert.equal(never.startMs, undefined);
    assert.equal(startedPeriods(never, MIN, Infinity), 0);
  });

  it('property: classify agrees with a brute-force scan of every millisecond boundary', () => {
    const segments = fc.array(
      fc.record({
        state: fc.constantFrom<SessionState>('active', 'pausing', 'paused', 'resuming', 'hibernated'),
        ms: fc.integer({ min: 0, max: 200_000 }),
      }),
      { minLength: 1, maxLength: 8 },
    );
    fc.assert(
      fc.property(segments, fc.integer({ min: 1_000, max: 90_000 }), (segs, period) => {
        let at = 0;
        const records = [rec('active', 0)];
        const spans: Array<{ from: number; to: number; state: SessionState }> = [];
        let state: SessionState = 'active';
        for (const s of segs) {
          spans.push({ from: at, to: at + s.ms, state });
          at += s.ms;
          records.push(rec(s.state, at));
          state = s.state;
        }
        records.push(rec('terminated', at + 1));
        spans.push({ from: at, to: at + 1, state });
        const t = timelineOf(records);
        const n = startedPeriods(t, period, Infinity);
        const got = classify(t, period, 0, n);
        for (let k = 0; k < n; k++) {
          const hits = spans.filter((s) => s.to > s.from && s.from < (k + 1) * period && s.to > k * period);
          const want = hits.some((s) => s.state === 'active')
            ? 'active'
            : hits.some((s) => s.state === 'paused' || s.state === 'hibernated')
              ? 'paused'
              : undefined;
          assert.equal(got[k], want, `period ${k}`);
        }
      }),
    );
  });
});
