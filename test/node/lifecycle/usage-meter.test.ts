import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CanonRecord } from '../../../backend-adapter/canon/canon-store.ts';
import { meterSession, priceAtListRates } from '../../../backend-adapter/lifecycle/usage-meter.ts';
import type { SessionState } from '../../../protocol/session.ts';

let seq = 0;
const rec = (toState: SessionState, at: string): CanonRecord => ({
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
  canonTimestamp: at,
  handshake: '55-45-17',
});

describe('usage metering', () => {
  it('counts active and paused time from the transition records', () => {
    const m = meterSession(
      [
        rec('requested', '2026-01-01T00:00:00Z'),
        rec('active', '2026-01-01T00:00:02Z'),
        rec('pausing', '2026-01-01T00:10:02Z'),
        rec('paused', '2026-01-01T00:10:03Z'),
        rec('resuming', '2026-01-01T01:10:03Z'),
        rec('active', '2026-01-01T01:10:04Z'),
      ],
      new Date('2026-01-01T01:20:04Z'),
    );
    assert.equal(m.startTime?.toISOString(), '2026-01-01T00:00:02.000Z');
    assert.equal(m.activeMs, 20 * 60_000);
    assert.equal(m.pausedMs, 3600_000);
  });

  it('prices at list rates per started minute, as billing does, in whole micro-NexCoin', () => {
    const tier = { id: 'basic', microNexCoinPerHour: 500_000, storageMicroNexCoinPerHour: 50_000 } as const;
    const minute = Math.ceil(500_000 / 60); // 8334
    const storageMinute = Math.ceil(50_000 / 60); // 834
    const history = [
      rec('requested', '2026-01-01T00:00:00Z'),
      rec('active', '2026-01-01T00:00:02Z'),
      rec('pausing', '2026-01-01T00:10:02Z'),
      rec('paused', '2026-01-01T00:10:03Z'),
      rec('resuming', '2026-01-01T01:10:03Z'),
      rec('active', '2026-01-01T01:10:04Z'),
      rec('terminating', '2026-01-01T01:20:04Z'),
      rec('terminated', '2026-01-01T01:20:05Z'),
    ];
    // Minutes from 00:00:02: 0–9 active; 10–69 paused (10 starts exactly where Active ended); 70 holds a
    // second of pause and the resume (active); 71–79 active; 80 holds the last two active seconds.
    assert.equal(
      priceAtListRates(history, tier, new Date('2026-01-01T02:00:00Z')),
      (10 + 11) * minute + 60 * storageMinute,
    );
    assert.equal(priceAtListRates(history.slice(0, 1), tier, new Date('2026-01-01T02:00:00Z')), 0);
    // A year at the GPU rate: BigInt keeps rate × period exact.
    const year = [rec('active', '2026-01-01T00:00:00Z'), rec('terminated', '2027-01-01T00:00:00Z')];
    const gpu = { id: 'gpu', microNexCoinPerHour: 15_000_000, storageMicroNexCoinPerHour: 0 } as const;
    assert.equal(priceAtListRates(year, gpu, new Date('2027-01-01T00:00:00Z')), 365 * 24 * 60 * 250_000);
  });
});
