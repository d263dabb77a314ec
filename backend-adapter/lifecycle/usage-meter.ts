import type { SessionState } from '../../protocol/session.ts';
import type { CanonRecord } from '../canon/canon-store.ts';

export interface MeteredTime {
  /** When the session first became active; undefined if it never did. */
  startTime: Date | undefined;
  activeMs: number;
  pausedMs: number;
}

/** Time spent in each billable state, read from the session's Canon Memory records up to `end`. */
export function meterSession(records: readonly CanonRecord[], end: Date): MeteredTime {
  let startTime: Date | undefined;
  let activeMs = 0;
  let pausedMs = 0;
  let state: SessionState | null = null;
  let since = 0;
  const close = (until: number): void => {
    if (state === 'active') activeMs += until - since;
    else if (state === 'paused') pausedMs += until - since;
  };
  for (const r of records) {
    if (r.entity !== 'session' || r.toState === null) continue;
    const at = Date.parse(r.canonTimestamp);
    close(at);
    state = r.toState;
    since = at;
    if (state === 'active' && startTime === undefined) startTime = new Date(at);
  }
  close(end.getTime());
  return { startTime, activeMs: Math.max(0, activeMs), pausedMs: Math.max(0, pausedMs) };
}

/** Active time at the tier's hourly rate, rounded up to the micro-NexCoin; exact integer arithmetic. */
export function priceActiveTime(activeMs: number, microNexCoinPerHour: number): number {
  const cost = (BigInt(Math.round(activeMs)) * BigInt(microNexCoinPerHour) + 3_599_999n) / 3_600_000n;
  return Number(cost);
}
