import type { Tier } from '../../protocol/session.ts';
import type { Principal } from '../auth/principal.ts';
import type { CanonRecord, GenesisLimits, SessionRow } from '../canon/canon-store.ts';

export interface TierAvailability {
  allowed: boolean;
  /** Why not, in a sentence for the user. */
  notAllowedReason?: string;
}

/**
 * Port: what the lifecycle asks billing and governance (tenant registry, deployment phase, NexCoin balance)
 * before it acts. Implemented by billing/governance-gate.ts; absent in tests of the bare state machine.
 */
export interface SessionGate {
  /** Whether this caller may launch `tier` (the subscription verdict is passed in), and why not. */
  tierAvailability(principal: Principal, tier: Tier, subscriptionAllows: boolean): TierAvailability;
  /**
   * Before Genesis writes or provisions anything: refuses with an ApiError (TIER_NOT_ALLOWED,
   * BALANCE_TOO_LOW, NOT_READY), or returns the limits the atomic quota check is to use for this caller
   * (the tenant's custom limits, the phase's ceiling less any capacity reserved for priority tenants).
   */
  admitGenesis(
    principal: Principal,
    tier: Tier,
    sessionId: string,
    defaults: GenesisLimits,
  ): Promise<GenesisLimits>;
  /** Before a paused session resumes (under its lock): refuses with BALANCE_TOO_LOW when it could not pay. */
  admitResume(row: SessionRow): Promise<void>;
  /** The billed cost of the session's records up to `end` (the SuperCoreUsage record's `cost`). */
  usageCost(row: SessionRow, records: readonly CanonRecord[], end: Date): Promise<number>;
}
