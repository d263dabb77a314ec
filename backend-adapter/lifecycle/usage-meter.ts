import type { SessionState, Tier } from '../../protocol/session.ts';
import { costOf, DEFAULT_PERIOD_MS, pricesOf, timelineOf } from '../billing/pricing.ts';
import type { CanonRecord } from '../canon/canon-store.ts';
import { findTier } from '../tiers/tier-catalogue.ts';

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
    else if (state === 'paused' || state === 'hibernated') pausedMs += until - since;
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

/**
 * The session's cost at the tier's list rates (no tenant discount), metered exactly as billing charges it
 * (billing/pricing.ts): every started period with Active time at the tier's rate, with only Paused time at
 * its storage rate; after a tier change, at the catalogue's rates of the tier in force. Billing's own gate,
 * when present, prices with the session's terms instead.
 */
export function priceAtListRates(
  records: readonly CanonRecord[],
  tier: Pick<Tier, 'id' | 'microNexCoinPerHour' | 'storageMicroNexCoinPerHour'>,
  end: Date,
  periodMs: number = DEFAULT_PERIOD_MS,
): number {
  const listTerms = (t: Pick<Tier, 'id' | 'microNexCoinPerHour' | 'storageMicroNexCoinPerHour'>) => ({
    tier: t.id,
    activeMicroPerHour: t.microNexCoinPerHour,
    storageMicroPerHour: t.storageMicroNexCoinPerHour ?? 0,
    discountBasisPoints: 0,
    periodMs,
  });
  return costOf(timelineOf(records), listTerms(tier), end.getTime(), (id) => {
    const other = findTier(id);
    return other && pricesOf(listTerms(other));
  });
}
