import { DEFAULT_PERIOD_MS } from './pricing.ts';

/** How metering runs; from the environment (see billing-config.ts). */
export interface BillingPolicy {
  /** Length of one billing period (every started period is billed). */
  periodMs: number;
  /** A period is charged only once it ended this long ago, so a transition being written cannot reprice it. */
  settleDelayMs: number;
  /** Genesis and resume need the balance to cover this many periods of every Active session of the user;
   * below it while running, the user's sessions are paused. */
  reservePeriods: number;
  /** Below this many periods the user is warned (log + analytics `supercore.billing.low-balance`). */
  warnPeriods: number;
  /** A known balance is trusted this long before the wallet is asked again. */
  balanceTtlMs: number;
  /** How often every live session is metered. */
  cycleIntervalMs: number;
  /** How often usage records are reconciled with the ledger. */
  reconciliationIntervalMs: number;
}

export const DEFAULT_BILLING_POLICY: BillingPolicy = {
  periodMs: DEFAULT_PERIOD_MS,
  settleDelayMs: 5_000,
  reservePeriods: 2,
  warnPeriods: 10,
  balanceTtlMs: 60_000,
  cycleIntervalMs: 15_000,
  reconciliationIntervalMs: 24 * 3_600_000,
};
