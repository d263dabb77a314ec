import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CanonRecord } from '../../../backend-adapter/canon/canon-store.ts';
import { meterSession, priceActiveTime } from '../../../backend-adapter/lifecycle/usage-meter.ts';
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

  it('prices active time in whole micro-NexCoin, rounding up, with no float drift', () => {
    assert.equal(priceActiveTime(3_600_000, 500_000), 500_000);
    assert.equal(priceActiveTime(1, 500_000), 1);
    assert.equal(priceActiveTime(0, 500_000), 0);
    // A year at the GPU rate overflows float precision for ms × rate; BigInt keeps it exact.
    assert.equal(priceActiveTime(365 * 24 * 3_600_000, 15_000_000), 365 * 24 * 15_000_000);
  });
});
