import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isFinished } from '../canon/canon-shared.ts';
import type { CanonStore, SessionRow, UsageRecord } from '../canon/canon-store.ts';
import type { OwnerEntriesRequest, Wallet, WalletEntry, WalletOwner } from '../wallet/wallet.ts';
import type { BillingSessionRow, BillingStore, ChargeRow } from './billing-store.ts';

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
 * Sessions read together (their charges, Canon rows and usage records) by one reconciliation query each. On
 * SQLite a page is read on the event loop: pages of 500 held it for about 70 ms each (15,000 sessions in the
 * window), and requests waited behind every page.
 */
const RECONCILE_PAGE = 50;
/**
 * After each page the reconciliation waits this many times as long as the page took, so it takes at most a
 * quarter of the event loop: read back to back, even small pages kept the loop busy from end to end for a
 * quarter of a second at 1,000 requests/s, and requests queued behind them. A daily job can take four times
 * as long.
 */
const PAGE_REST_FACTOR = 3;
/** Owners whose wallet entries are read together. */
const OWNERS_PAGE = 20;

/** The pause after a page that began at `started` (PAGE_REST_FACTOR). */
const rest = (started: number): Promise<void> => delay(PAGE_REST_FACTOR * (performance.now() - started));

/** What a reconciliation compares for one session, besides the owner's ledger entries. */
interface SessionFacts {
  charges: readonly ChargeRow[];
  row: SessionRow | undefined;
  usage: UsageRecord | undefined;
}

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
    const found = await this.readInPages(sessions);
    const groups = [...byOwner.values()];
    const ledgers = await this.entriesOf(
      groups.map(({ owner, sessions: own }) => ({
        owner,
        from: own.reduce((a, s) => (s.registeredAt < a ? s.registeredAt : a), own[0]?.registeredAt ?? from),
      })),
    );
    for (const [i, { sessions: own }] of groups.entries()) {
      const entries = ledgers[i] ?? [];
      for (const s of own) {
        const before = report.differences.length;
        this.check(s, entries, found(s.sessionId), report);
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

  /**
   * Each owner's wallet entries since its first session here: OWNERS_PAGE owners in one read where the wallet
   * can (the embedded ledger reads them in a transaction on the event loop: a hundred owners' two days of
   * entries in one read held it for 67 ms), pausing after each page as readInPages does.
   */
  private async entriesOf(requests: readonly OwnerEntriesRequest[]): Promise<WalletEntry[][]> {
    const { wallet } = this.deps;
    const lists: WalletEntry[][] = [];
    for (let i = 0; i < requests.length; i += OWNERS_PAGE) {
      const started = performance.now();
      const page = requests.slice(i, i + OWNERS_PAGE);
      if (wallet.listEntriesOfOwners) lists.push(...(await wallet.listEntriesOfOwners(page)));
      else {
        for (const r of page) lists.push(await wallet.listEntries(r.owner, r.from ? { from: r.from } : {}));
      }
      await rest(started);
    }
    return lists;
  }

  /**
   * Every session's charges, Canon row and usage record, read a page of sessions at a time: three queries a
   * page rather than three a session. A run checks two days of sessions, and one query each made it a
   * second of both cores at full speed here, which every API request felt.
   */
  private async readInPages(
    sessions: readonly BillingSessionRow[],
  ): Promise<(sessionId: string) => SessionFacts> {
    const charges = new Map<string, ChargeRow[]>();
    const rows = new Map<string, SessionRow>();
    const usages = new Map<string, UsageRecord>();
    for (let i = 0; i < sessions.length; i += RECONCILE_PAGE) {
      const started = performance.now();
      const ids = sessions.slice(i, i + RECONCILE_PAGE).map((s) => s.sessionId);
      const [pageCharges, pageRows, pageUsages] = await Promise.all([
        this.deps.store.chargesOfMany(ids),
        this.deps.canon.getSessions(ids),
        this.deps.canon.getUsages(ids),
      ]);
      for (const [id, c] of pageCharges) charges.set(id, c);
      for (const [id, r] of pageRows) rows.set(id, r);
      for (const [id, u] of pageUsages) usages.set(id, u);
      await rest(started);
    }
    return (id) => ({ charges: charges.get(id) ?? [], row: rows.get(id), usage: usages.get(id) });
  }

  private check(
    s: BillingSessionRow,
    entries: readonly WalletEntry[],
    { charges, row, usage }: SessionFacts,
    report: ReconciliationReport,
  ): void {
    const base = { sessionId: s.sessionId, tenantId: s.tenantId, userId: s.userId };
    const add = (d: Omit<Difference, 'sessionId' | 'tenantId' | 'userId'>): void => {
      report.differences.push({ ...base, ...d });
    };
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

    if (!row || !isFinished(row.session.state)) return;
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
