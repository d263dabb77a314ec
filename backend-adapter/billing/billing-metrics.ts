import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DifferenceKind, ReconciliationReport } from './reconciliation.ts';

/** Why a charge was not confirmed by the wallet this time (bounded label values). */
export type ChargeFailureReason = 'declined' | 'wallet_unavailable' | 'key_conflict' | 'error';

/** What billing reports as it works; the Prometheus adapter below, or nothing (tests, benchmarks). */
export interface BillingMetricsSink {
  /** A charge the wallet confirmed; `replayed` when its key had been applied before (nothing moved). */
  charged(c: { tier: string; tenant: string; amount: number; replayed: boolean }): void;
  chargeFailed(reason: ChargeFailureReason): void;
  /** One wallet deduction (a ledger write), however it ended. */
  ledgerWrite(seconds: number): void;
  lowBalance(action: 'warned' | 'paused'): void;
  /** The Genesis / resume / tier-change billing check refused for lack of funds. */
  balanceRefused(door: 'genesis' | 'resume' | 'tier_change'): void;
  reconciled(report: ReconciliationReport): void;
}

const DIFFERENCE_KINDS: readonly DifferenceKind[] = [
  'usage-vs-ledger',
  'usage-vs-charges',
  'charge-without-ledger-entry',
  'ledger-entry-without-charge',
  'outstanding',
  'missing-usage',
];

/**
 * Billing's Prometheus metrics. Labels are bounded: `tier` is the catalogue's, `tenant` a tenant of the
 * registry or `other` (metering maps unlisted tenants), `reason`/`action`/`door`/`kind` fixed lists.
 */
export class BillingMetrics implements BillingMetricsSink {
  private readonly charges: Counter<'tier' | 'tenant'>;
  private readonly micro: Counter<'tier' | 'tenant'>;
  private readonly replays: Counter;
  private readonly failures: Counter<'reason'>;
  private readonly writes: Histogram;
  private readonly low: Counter<'action'>;
  private readonly refused: Counter<'door'>;
  private readonly differences: Gauge<'kind'>;
  private readonly reconciliations: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.charges = new Counter({
      name: 'v_supercore_billing_charges_total',
      help: 'Period charges the NexCoin wallet confirmed (first applications, not replays), by tier and tenant.',
      labelNames: ['tier', 'tenant'],
      registers,
    });
    this.micro = new Counter({
      name: 'v_supercore_billing_charged_micronexcoin_total',
      help: 'Micro-NexCoin charged (confirmed, not replays), by tier and tenant.',
      labelNames: ['tier', 'tenant'],
      registers,
    });
    this.replays = new Counter({
      name: 'v_supercore_billing_idempotent_replays_total',
      help: 'Charges the wallet answered as replays of an idempotency key applied before (nothing moved).',
      registers,
    });
    this.failures = new Counter({
      name: 'v_supercore_billing_charge_failures_total',
      help: 'Charges not confirmed this cycle (retried next cycle with the same key), by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.writes = new Histogram({
      name: 'v_supercore_billing_ledger_write_seconds',
      help: 'How long one charge waited for the wallet to answer its deduction (the embedded ledger answers a round of owners together: each charge waited for its round), in seconds.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.low = new Counter({
      name: 'v_supercore_billing_low_balance_total',
      help: 'Low-balance actions: users warned, sessions paused by system:billing.',
      labelNames: ['action'],
      registers,
    });
    this.refused = new Counter({
      name: 'v_supercore_billing_balance_refusals_total',
      help: 'BALANCE_TOO_LOW refusals, by door (genesis, resume, tier_change).',
      labelNames: ['door'],
      registers,
    });
    this.differences = new Gauge({
      name: 'v_supercore_billing_reconciliation_differences',
      help: 'Differences the last reconciliation found, by kind (outstanding charges are reported, not errors).',
      labelNames: ['kind'],
      registers,
    });
    this.reconciliations = new Counter({
      name: 'v_supercore_billing_reconciliations_total',
      help: 'Reconciliation runs completed.',
      registers,
    });
    for (const kind of DIFFERENCE_KINDS) this.differences.set({ kind }, 0);
    for (const reason of ['declined', 'wallet_unavailable', 'key_conflict', 'error'] as const) {
      this.failures.inc({ reason }, 0);
    }
  }

  charged(c: { tier: string; tenant: string; amount: number; replayed: boolean }): void {
    if (c.replayed) {
      this.replays.inc();
      return;
    }
    this.charges.inc({ tier: c.tier, tenant: c.tenant });
    this.micro.inc({ tier: c.tier, tenant: c.tenant }, c.amount);
  }

  chargeFailed(reason: ChargeFailureReason): void {
    this.failures.inc({ reason });
  }

  ledgerWrite(seconds: number): void {
    this.writes.observe(seconds);
  }

  lowBalance(action: 'warned' | 'paused'): void {
    this.low.inc({ action });
  }

  balanceRefused(door: 'genesis' | 'resume' | 'tier_change'): void {
    this.refused.inc({ door });
  }

  reconciled(report: ReconciliationReport): void {
    const counts = new Map<DifferenceKind, number>(DIFFERENCE_KINDS.map((k) => [k, 0]));
    for (const d of report.differences) counts.set(d.kind, (counts.get(d.kind) ?? 0) + 1);
    for (const [kind, n] of counts) this.differences.set({ kind }, n);
    this.reconciliations.inc();
  }
}
