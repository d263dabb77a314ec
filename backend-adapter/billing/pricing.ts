import type { SessionState } from '../../protocol/session.ts';
import type { CanonRecord } from '../canon/canon-store.ts';

/**
 * Metering and pricing, as pure functions of a session's Canon Memory records.
 *
 * Granularity: the session's time is cut into billing periods of `periodMs` (one minute by default),
 * counted from the moment it first became Active. Every period that contains any Active time is billed
 * at the tier's rate; a period with Paused (or hibernated) time but no Active time at the storage rate;
 * a period with neither (provisioning, a transition that took the whole period) is not billed. Every
 * started period counts in full ("per started minute"), so a session is billed for
 * ceil(billable time / period) periods, and pausing or ending mid-minute never bills less than the
 * minute begun. One period's price is the hourly rate prorated and discounted, rounded UP to the whole
 * micro-NexCoin: ceil(rate × periodMs × (10000 − discount bp) / (3,600,000 × 10000)), in BigInt.
 * Because each period's price depends only on (terms, class, tier), a period is charged independently of
 * every other, which is what makes its idempotency key (session, period) sufficient.
 *
 * Tier changes: the records say which tier is in force when (the Genesis record, then each `tier.changed`).
 * A period is priced at its class's rate of the dearest tier in force during the time of that class in it —
 * so a period that straddles a change is billed once, in full, at the higher of the two tiers (the resources
 * of both were held in it), consistent with "every started period in full".
 */

export type PeriodClass = 'active' | 'paused';

/** States billed at the tier's rate and at the storage rate; every other state is not billed. */
const RATE_OF: Partial<Record<SessionState, PeriodClass>> = {
  active: 'active',
  paused: 'paused',
  hibernated: 'paused',
};

export function billableClass(state: SessionState | null): PeriodClass | undefined {
  return state === null ? undefined : RATE_OF[state];
}

export const DEFAULT_PERIOD_MS = 60_000;

/** What a session pays, fixed when it is admitted (later changes to the registry do not reprice it). */
export interface BillingTerms {
  tier: string;
  /** List price while Active, micro-NexCoin per hour. */
  activeMicroPerHour: number;
  /** List price while Paused, micro-NexCoin per hour. */
  storageMicroPerHour: number;
  /** The tenant's discount, basis points (founding tenants). */
  discountBasisPoints: number;
  periodMs: number;
}

export interface PeriodPrices {
  active: number;
  paused: number;
}

const HOUR_MS = 3_600_000n;
const BASIS = 10_000n;

/** One period at `ratePerHour`, discounted, rounded up to the micro-NexCoin (exact BigInt arithmetic). */
export function periodPrice(ratePerHour: number, periodMs: number, discountBasisPoints: number): number {
  if (![ratePerHour, periodMs, discountBasisPoints].every(Number.isSafeInteger)) {
    throw new RangeError('rates, period and discount must be integers');
  }
  if (discountBasisPoints < 0 || discountBasisPoints > 10_000) throw new RangeError('discount out of range');
  const numerator = BigInt(ratePerHour) * BigInt(periodMs) * (BASIS - BigInt(discountBasisPoints));
  const denominator = HOUR_MS * BASIS;
  return Number((numerator + denominator - 1n) / denominator);
}

/** An hourly rate less a discount, rounded up to the micro-NexCoin (what a price list shows; billing is per period). */
export function discountedRate(ratePerHour: number, discountBasisPoints: number): number {
  if (!Number.isSafeInteger(ratePerHour) || !Number.isSafeInteger(discountBasisPoints)) {
    throw new RangeError('rate and discount must be integers');
  }
  if (discountBasisPoints < 0 || discountBasisPoints > 10_000) throw new RangeError('discount out of range');
  const numerator = BigInt(ratePerHour) * (BASIS - BigInt(discountBasisPoints));
  return Number((numerator + BASIS - 1n) / BASIS);
}

export function pricesOf(terms: BillingTerms): PeriodPrices {
  return {
    active: periodPrice(terms.activeMicroPerHour, terms.periodMs, terms.discountBasisPoints),
    paused: periodPrice(terms.storageMicroPerHour, terms.periodMs, terms.discountBasisPoints),
  };
}

export interface Interval {
  from: number;
  /** Infinity while the session is still in this state. */
  to: number;
  kind: PeriodClass;
  /** The tier in force (null: the records do not say; the session's admitted tier). */
  tier: string | null;
}

/** Records that set the tier in force from their timestamp on. */
const TIER_ACTIONS = new Set(['genesis.requested', 'tier.changed']);

/** The prices of the tiers other than the admitted one (fixed when the session changed to them). */
export type OtherTierPrices = (tier: string) => PeriodPrices | undefined;

/** A tier a session changed to has no prices in its terms (billing must register it before pricing). */
export class UnpricedTierError extends Error {
  constructor(readonly tier: string) {
    super(`no billing terms for tier ${tier}`);
  }
}

/** A session's billable time, read from its records. */
export interface Timeline {
  /** When the session first became Active: period 0 starts here. Undefined if it never did. */
  startMs: number | undefined;
  /** Billable intervals of positive length, in order. */
  intervals: Interval[];
  /** The session is in a billable state now (the last interval is open). */
  open: boolean;
  /** Reached terminated or failed: no billable time can follow. */
  finished: boolean;
}

/**
 * The billable intervals in a session's Canon records (session entity, in sequence order). A timestamp
 * earlier than the one before it (clocks of two replicas) is taken as the one before it, so intervals
 * never run backwards.
 */
export function timelineOf(records: readonly CanonRecord[]): Timeline {
  const intervals: Interval[] = [];
  let startMs: number | undefined;
  let state: SessionState | null = null;
  let tier: string | null = null;
  let since = 0;
  let last = -Infinity;
  let finished = false;
  const close = (until: number): void => {
    const kind = billableClass(state);
    if (kind && until > since) intervals.push({ from: since, to: until, kind, tier });
  };
  for (const r of records) {
    if (r.entity !== 'session' || r.toState === null) continue;
    const at = Math.max(Date.parse(r.canonTimestamp), last);
    last = at;
    close(at);
    state = r.toState;
    if (TIER_ACTIONS.has(r.action) && typeof r.payload.tier === 'string') tier = r.payload.tier;
    since = at;
    if (state === 'active' && startMs === undefined) startMs = at;
    if (state === 'terminated' || state === 'failed') finished = true;
  }
  const kind = billableClass(state);
  const open = kind !== undefined && !finished;
  if (open && kind) intervals.push({ from: since, to: Infinity, kind, tier });
  // Time billed only from the first Active moment (a session cannot be paused before it ran).
  const billable =
    startMs === undefined
      ? []
      : intervals
          .map((i) => ({ ...i, from: Math.max(i.from, startMs as number) }))
          .filter((i) => i.to > i.from);
  return { startMs, intervals: billable, open, finished };
}

/** How many periods have started by `untilMs` (all of them once the session has left its billable states). */
export function startedPeriods(t: Timeline, periodMs: number, untilMs: number): number {
  if (t.startMs === undefined) return 0;
  let end = t.startMs;
  for (const i of t.intervals) end = Math.max(end, Math.min(i.to, untilMs));
  return Math.max(0, Math.ceil((end - t.startMs) / periodMs));
}

/**
 * How many periods can be charged now, never to be repriced: every period for a finished session; for a
 * live one, the periods that ended before `settledUntilMs` (now minus a settling delay, so a transition
 * being written at this moment cannot change a period already charged).
 */
export function chargeablePeriods(t: Timeline, periodMs: number, settledUntilMs: number): number {
  if (t.startMs === undefined) return 0;
  if (t.finished) return startedPeriods(t, periodMs, Infinity);
  return Math.max(0, Math.floor((settledUntilMs - t.startMs) / periodMs));
}

/** One billable period: its class, the tier it is billed at and its price. */
export interface PricedPeriod {
  kind: PeriodClass;
  tier: string;
  amount: number;
}

/** The period indices [first, last] an interval touches, clipped to [fromPeriod, toPeriod). */
function periodsOf(i: Interval, s: number, periodMs: number, fromPeriod: number, toPeriod: number) {
  const first = Math.max(fromPeriod, Math.floor((i.from - s) / periodMs));
  const last =
    i.to === Infinity ? toPeriod - 1 : Math.min(toPeriod - 1, Math.ceil((i.to - s) / periodMs) - 1);
  return { first, last };
}

/** The class of each period in [fromPeriod, toPeriod) (undefined: nothing billable in it). */
export function classify(
  t: Timeline,
  periodMs: number,
  fromPeriod: number,
  toPeriod: number,
): Array<PeriodClass | undefined> {
  const out = new Array<PeriodClass | undefined>(Math.max(0, toPeriod - fromPeriod)).fill(undefined);
  if (t.startMs === undefined || out.length === 0) return out;
  for (const i of t.intervals) {
    const { first, last } = periodsOf(i, t.startMs, periodMs, fromPeriod, toPeriod);
    for (let k = first; k <= last; k++) {
      if (i.kind === 'active' || out[k - fromPeriod] === undefined) out[k - fromPeriod] = i.kind;
    }
  }
  return out;
}

/**
 * Each period in [fromPeriod, toPeriod) priced: its class (classify), at that class's price of the dearest
 * tier in force during that class's time in the period. `terms` price the admitted tier; `others` every tier
 * the session changed to (UnpricedTierError when one is missing).
 */
export function pricePeriods(
  t: Timeline,
  terms: BillingTerms,
  fromPeriod: number,
  toPeriod: number,
  others?: OtherTierPrices,
): Array<PricedPeriod | undefined> {
  const { periodMs } = terms;
  const classes = classify(t, periodMs, fromPeriod, toPeriod);
  const out = new Array<PricedPeriod | undefined>(classes.length).fill(undefined);
  if (t.startMs === undefined || out.length === 0) return out;
  const own = pricesOf(terms);
  const pricesFor = (tier: string | null): PeriodPrices => {
    if (tier === null || tier === terms.tier) return own;
    const p = others?.(tier);
    if (!p) throw new UnpricedTierError(tier);
    return p;
  };
  for (const i of t.intervals) {
    const { first, last } = periodsOf(i, t.startMs, periodMs, fromPeriod, toPeriod);
    if (first > last) continue;
    const tier = i.tier ?? terms.tier;
    const amount = pricesFor(i.tier)[i.kind];
    for (let k = first; k <= last; k++) {
      if (classes[k - fromPeriod] !== i.kind) continue;
      const cur = out[k - fromPeriod];
      if (!cur || amount > cur.amount) out[k - fromPeriod] = { kind: i.kind, tier, amount };
    }
  }
  return out;
}

/** Every started period up to `untilMs`, priced: the cost so far (the final cost once finished). */
export function costOf(t: Timeline, terms: BillingTerms, untilMs: number, others?: OtherTierPrices): number {
  const periods = startedPeriods(t, terms.periodMs, untilMs);
  let total = 0;
  for (const p of pricePeriods(t, terms, 0, periods, others)) if (p) total += p.amount;
  return total;
}

/** The tiers in force in a timeline other than `admitted` (the ones that need prices of their own). */
export function otherTiersIn(t: Timeline, admitted: string): string[] {
  const out = new Set<string>();
  for (const i of t.intervals) if (i.tier !== null && i.tier !== admitted) out.add(i.tier);
  return [...out];
}

/** The idempotency key of one period's charge: the same for every replica and every retry. */
export function chargeKey(sessionId: string, period: number): string {
  return `v-supercore:charge:${sessionId}:${period}`;
}
