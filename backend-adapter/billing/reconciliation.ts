import type { Logger } from 'pino';
import { isFinished } from '../canon/canon-shared.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { Wallet, WalletEntry, WalletOwner } from '../wallet/wallet.ts';
import type { BillingSessionRow, BillingStore } from './billing-store.ts';

export type DifferenceKind =
  /** The SuperCoreUsage cost differs from what the ledger deducted for the session. */
  | 'usage-vs-ledger'
  /** The SuperCoreUsage cost differs from billing's own charge rows. */
  | 'usage-vs-charges'
  /** A charge billing recorded as charged has no deduction with its key and amount in the ledger. */
  | 'charge-without-ledger-entry'
  /** A deduction for the session that no charge row accounts for (or of another amount). */
  | 'ledger-entry-without-charge'
  /** Charges not (yet) confirmed by the wallet: pending, or declined for lack of funds. */
  | 'outstanding'
  /** A terminated session, or a failed one that was billed, without its SuperCoreUsage record. */
  | 'missing-usage';

export interface Difference {
  kind: DifferenceKind;
  sessionId: string;
  tenantId: string;
  userId: string;
  /** Micro-NexCoin, where the difference is an amount. */
  expected?: number;
  actual?: number;
  detail: string;
}

export interface ReconciliationReport {
  from: string;
  to: string;
  sessionsChecked: number;
  /** Sessions with no difference at all. */
  matched: number;
  differences: Difference[];
  totals: { usage: number; charges: number; ledgerDeducted: number; ledgerRefunded: number };
}

export interface ReconcilerDeps {
  canon: CanonStore;
  store: BillingStore;
  wallet: Wallet;
  logger: Logger;
  clock?: () => Date;
}

const ownerKey = (o: WalletOwner): string => `${o.tenantId}/${o.userId}`;

/**
 * The nightly check of "billing accuracy 100%": for every session whose metering ended in the window (and
 * every one still metered), compares three independent records — the SuperCoreUsage record Canon Memory
 * wrote when it ended (terminated, or failed after it ran), billing's charge rows, and the wallet's ledger
 * entries (by session and idempotency key) — and reports every difference. It changes nothing: a difference
 * is for a person to look at.
 */
export class Reconciler {
  private readonly clock: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async run(window: { from?: string; to?: string } = {}): Promise<ReconciliationReport> {
    const to = window.to ?? this.clock().toISOString();
    const from = window.from ?? new Date(Date.parse(to) - 2 * 24 * 3_600_000).toISOString();
    const sessions = await this.deps.store.listForReconciliation(from, to);
    const report: ReconciliationReport = {
      from,
      to,
      sessionsChecked: sessions.length,
      matched: 0,
      differences: [],
      totals: { usage: 0, charges: 0, ledgerDeducted: 0, ledgerRefunded: 0 },
    };
    const byOwner = new Map<string, { owner: WalletOwner; sessions: BillingSessionRow[] }>();
    for (const s of sessions) {
      const key = ownerKey(s);
      const group = byOwner.get(key) ?? { owner: { tenantId: s.tenantId, userId: s.userId }, sessions: [] };
      group.sessions.push(s);
      byOwner.set(key, group);
    }
    for (const { owner, sessions: own } of byOwner.values()) {
      const since = own.reduce(
        (a, s) => (s.registeredAt < a ? s.registeredAt : a),
        own[0]?.registeredAt ?? from,
      );
      const entries = await this.deps.wallet.listEntries(owner, { from: since });
      for (const s of own) {
        const before = report.differences.length;
        await this.check(s, entries, report);
        if (report.differences.length === before) report.matched++;
      }
    }
    const level = report.differences.some((d) => d.kind !== 'outstanding') ? 'error' : 'info';
    this.deps.logger[level](
      {
        from,
        to,
        sessionsChecked: report.sessionsChecked,
        matched: report.matched,
        differences: report.differences.length,
      },
      'billing reconciliation',
    );
    return report;
  }

  private async check(
    s: BillingSessionRow,
    entries: readonly WalletEntry[],
    report: ReconciliationReport,
  ): Promise<void> {
    const base = { sessionId: s.sessionId, tenantId: s.tenantId, userId: s.userId };
    const add = (d: Omit<Difference, 'sessionId' | 'tenantId' | 'userId'>): void => {
      report.differences.push({ ...base, ...d });
    };
    const charges = await this.deps.store.chargesOf(s.sessionId);
    const deducts = entries.filter((e) => e.kind === 'deduct' && e.metadata.sessionId === s.sessionId);
    const deductIds = new Set(deducts.map((e) => e.transactionId));
    const refunded = entries
      .filter((e) => e.kind === 'refund' && e.refundOf !== null && deductIds.has(e.refundOf))
      .reduce((a, e) => a + e.amount, 0);
    const deducted = deducts.reduce((a, e) => a + e.amount, 0);
    const chargesTotal = charges.reduce((a, c) => a + c.amount, 0);
    report.totals.charges += chargesTotal;
    report.totals.ledgerDeducted += deducted;
    report.totals.ledgerRefunded += refunded;

    const byKey = new Map(deducts.map((e) => [e.idempotencyKey, e]));
    const chargeKeys = new Set(charges.map((c) => c.idempotencyKey));
    for (const c of charges) {
      const entry = byKey.get(c.idempotencyKey);
      if (c.status === 'charged' && (!entry || entry.amount !== c.amount)) {
        add({
          kind: 'charge-without-ledger-entry',
          expected: c.amount,
          actual: entry?.amount ?? 0,
          detail: `period ${c.period} (${c.idempotencyKey}) is marked charged but the ledger ${entry ? `deducted ${entry.amount}` : 'has no such deduction'}`,
        });
      }
    }
    for (const e of deducts) {
      const charge = charges.find((c) => c.idempotencyKey === e.idempotencyKey);
      if (!chargeKeys.has(e.idempotencyKey) || (charge && charge.amount !== e.amount)) {
        add({
          kind: 'ledger-entry-without-charge',
          expected: charge?.amount ?? 0,
          actual: e.amount,
          detail: `ledger deduction ${e.transactionId} (${e.idempotencyKey}) of ${e.amount} µNXC matches no charge of this session`,
        });
      }
    }
    const owed = charges.filter((c) => c.status !== 'charged');
    if (owed.length > 0) {
      add({
        kind: 'outstanding',
        actual: owed.reduce((a, c) => a + c.amount, 0),
        detail: `${owed.length} charge(s) not confirmed by the wallet (${[...new Set(owed.map((c) => c.status))].join(', ')})`,
      });
    }

    const row = await this.deps.canon.getSession(s.sessionId);
    if (!row || !isFinished(row.session.state)) return;
    const usage = await this.deps.canon.getUsage(s.sessionId);
    if (!usage) {
      // A failed session gets its record only if it ran (was billed); one that never did has none.
      if (row.session.state === 'terminated' || charges.length > 0) {
        add({
          kind: 'missing-usage',
          detail: `the session is ${row.session.state}${row.session.state === 'failed' ? ' after it was billed' : ''} but has no SuperCoreUsage record`,
        });
      }
      return;
    }
    report.totals.usage += usage.cost;
    if (usage.cost !== chargesTotal) {
      add({
        kind: 'usage-vs-charges',
        expected: usage.cost,
        actual: chargesTotal,
        detail: `SuperCoreUsage cost ${usage.cost} µNXC, charge rows total ${chargesTotal} µNXC`,
      });
    }
    if (usage.cost !== deducted) {
      add({
        kind: 'usage-vs-ledger',
        expected: usage.cost,
        actual: deducted,
        detail: `SuperCoreUsage cost ${usage.cost} µNXC, ledger deducted ${deducted} µNXC${refunded > 0 ? ` (and refunded ${refunded})` : ''}`,
      });
    }
  }
}
