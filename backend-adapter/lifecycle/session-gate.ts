import type { Tier, TierPrice } from '../../protocol/session.ts';
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
  /** The caller's own rates for `tier` when a discount applies (a founding tenant), else undefined. */
  tierPrice?(principal: Principal, tier: Tier): TierPrice | undefined;
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
  /** The limits admitGenesis would give this caller, without admitting anything (to show them). */
  limitsFor?(principal: Principal, defaults: GenesisLimits): GenesisLimits;
  /** A launch admitted by admitGenesis that was not created or did not start: releases what it held. */
  genesisAbandoned(sessionId: string): Promise<void>;
  /**
   * Before an Active or Paused session changes to `tier` (under its lock): refuses with TIER_NOT_ALLOWED or
   * BALANCE_TOO_LOW (the new tier's first periods must be covered), fixes the new tier's rates for billing,
   * and returns the limits the atomic quota check of the new resources is to use.
   */
  admitTierChange(
    principal: Principal,
    row: SessionRow,
    tier: Tier,
    defaults: GenesisLimits,
  ): Promise<GenesisLimits>;
  /** Before a paused session resumes (under its lock): refuses with BALANCE_TOO_LOW when it could not pay. */
  admitResume(row: SessionRow): Promise<void>;
  /**
   * The billed cost of the session's records up to `end` (the SuperCoreUsage record's `cost`). The records
   * may still be on their way: what billing reads of its own meanwhile costs no extra wait.
   */
  usageCost(
    row: SessionRow,
    records: readonly CanonRecord[] | Promise<readonly CanonRecord[]>,
    end: Date,
  ): Promise<number>;
}
