import type { AllocatedResources, SessionState, Tier } from '../../protocol/session.ts';
import { costOf, DEFAULT_PERIOD_MS, pricesOf, timelineOf } from '../billing/pricing.ts';
import type { CanonRecord } from '../canon/canon-store.ts';
import { findTier } from '../tiers/tier-catalogue.ts';

export interface MeteredTime {
  /** When the session first became active; undefined if it never did. */
  startTime: Date | undefined;
  activeMs: number;
  pausedMs: number;
  /** Active time × the CPU of the tier in force during it (millicore-milliseconds). */
  cpuMillicoreMs: number;
  /** Active time × the memory of the tier in force during it (MiB-milliseconds). */
  memoryMiBMs: number;
}

type MeteredResources = Pick<AllocatedResources, 'cpuMillicores' | 'memoryMiB'>;

/** The resources a record says are in force from it on: Genesis and `tier.changed` carry them. */
function resourcesIn(record: CanonRecord): MeteredResources | undefined {
  const r = record.payload.resources as Partial<MeteredResources> | undefined;
  return r && typeof r.cpuMillicores === 'number' && typeof r.memoryMiB === 'number'
    ? { cpuMillicores: r.cpuMillicores, memoryMiB: r.memoryMiB }
    : undefined;
}

/**
 * Time spent in each billable state, read from the session's Canon Memory records up to `end`, with the
 * resources consumed while Active counted per interval at the tier in force (a tier change splits them).
 * `fallback` stands for the resources until a record names them (records written before they did).
 */
export function meterSession(
  records: readonly CanonRecord[],
  end: Date,
  fallback: MeteredResources = { cpuMillicores: 0, memoryMiB: 0 },
): MeteredTime {
  let startTime: Date | undefined;
  let activeMs = 0;
  let pausedMs = 0;
  let cpuMillicoreMs = 0;
  let memoryMiBMs = 0;
  let resources = fallback;
  let state: SessionState | null = null;
  let since = 0;
  const close = (until: number): void => {
    const ms = Math.max(0, until - since);
    if (state === 'active') {
      activeMs += ms;
      cpuMillicoreMs += ms * resources.cpuMillicores;
      memoryMiBMs += ms * resources.memoryMiB;
    } else if (state === 'paused' || state === 'hibernated') pausedMs += ms;
  };
  for (const r of records) {
    if (r.entity !== 'session' || r.toState === null) continue;
    const at = Date.parse(r.canonTimestamp);
    close(at);
    state = r.toState;
    since = at;
    resources = resourcesIn(r) ?? resources;
    if (state === 'active' && startTime === undefined) startTime = new Date(at);
  }
  close(end.getTime());
  return { startTime, activeMs, pausedMs, cpuMillicoreMs, memoryMiBMs };
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
