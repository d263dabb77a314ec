import type { InvoiceResponse, UsageRecordResponse, UsageResponse } from '../../protocol/billing.ts';
import { isTenantAdmin, type Principal } from '../auth/principal.ts';
import { isFinished } from '../canon/canon-shared.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import { meterSession } from '../lifecycle/usage-meter.ts';
import type { Wallet } from '../wallet/wallet.ts';
import type { BillingStore, ChargeRow } from './billing-store.ts';
import type { Metering } from './metering.ts';
import { pricesOf } from './pricing.ts';

export interface StatementDeps {
  canon: CanonStore;
  store: BillingStore;
  wallet: Wallet;
  metering: Metering;
  clock?: () => Date;
}

/** [start, end) of a `YYYY-MM` month in UTC, as ISO strings. */
export function monthRange(month: string): { from: string; to: string } {
  const [y = 0, m = 1] = month.split('-').map(Number);
  return {
    from: new Date(Date.UTC(y, m - 1, 1)).toISOString(),
    to: new Date(Date.UTC(y, m, 1)).toISOString(),
  };
}

/** Who the caller may see: their own usage, or their tenant's if they administer it (never another tenant's). */
function scopeOf(principal: Principal): { tenantId: string; userId?: string } {
  return isTenantAdmin(principal)
    ? { tenantId: principal.tenantId }
    : { tenantId: principal.tenantId, userId: principal.userId };
}

function sums(charges: readonly ChargeRow[]): { charged: number; outstanding: number } {
  let charged = 0;
  let outstanding = 0;
  for (const c of charges) {
    if (c.status === 'charged') charged += c.amount;
    else outstanding += c.amount;
  }
  return { charged, outstanding };
}

/** Usage and invoices per user and per tenant, from Canon Memory and billing's records. */
export class Statements {
  private readonly clock: () => Date;

  constructor(private readonly deps: StatementDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async usage(principal: Principal, month?: string): Promise<UsageResponse> {
    const scope = scopeOf(principal);
    const range = month ? monthRange(month) : undefined;
    const rows = (await this.deps.canon.listSessions(scope)).filter(
      (r) => !range || (r.session.createdAt >= range.from && r.session.createdAt < range.to),
    );
    const charges = await this.deps.store.listCharges(scope);
    const bySession = new Map<string, ChargeRow[]>();
    for (const c of charges) bySession.set(c.sessionId, [...(bySession.get(c.sessionId) ?? []), c]);
    const withCosts = await this.deps.metering.withCosts(rows.map((r) => r.session));
    const now = this.clock();
    const records: UsageRecordResponse[] = [];
    for (const [i, row] of rows.entries()) {
      const s = row.session;
      const money = sums(bySession.get(s.sessionId) ?? []);
      const usage = isFinished(s.state) ? await this.deps.canon.getUsage(s.sessionId) : undefined;
      if (usage) {
        records.push({
          sessionId: s.sessionId,
          userId: s.userId,
          tier: s.tier,
          state: s.state,
          startTime: usage.startTime,
          endTime: usage.endTime,
          activeSeconds: usage.resourceConsumption.activeSeconds,
          pausedSeconds: usage.resourceConsumption.pausedSeconds,
          costMicroNexCoin: usage.cost,
          chargedMicroNexCoin: money.charged,
          outstandingMicroNexCoin: money.outstanding,
          final: true,
        });
        continue;
      }
      const metered = meterSession(await this.deps.canon.listRecords(s.sessionId), now);
      records.push({
        sessionId: s.sessionId,
        userId: s.userId,
        tier: s.tier,
        state: s.state,
        startTime: metered.startTime?.toISOString() ?? null,
        endTime: isFinished(s.state) ? s.canonTimestamp : null,
        activeSeconds: Math.round(metered.activeMs / 1000),
        pausedSeconds: Math.round(metered.pausedMs / 1000),
        costMicroNexCoin: withCosts[i]?.costSoFarMicroNexCoin ?? 0,
        chargedMicroNexCoin: money.charged,
        outstandingMicroNexCoin: money.outstanding,
        final: false,
      });
    }
    const response: UsageResponse = {
      scope: scope.userId === undefined ? 'tenant' : 'user',
      tenantId: scope.tenantId,
      ...(scope.userId === undefined ? {} : { userId: scope.userId }),
      ...(month ? { month } : {}),
      records,
      totals: {
        costMicroNexCoin: records.reduce((a, r) => a + r.costMicroNexCoin, 0),
        chargedMicroNexCoin: records.reduce((a, r) => a + r.chargedMicroNexCoin, 0),
        outstandingMicroNexCoin: records.reduce((a, r) => a + r.outstandingMicroNexCoin, 0),
      },
    };
    if (scope.userId !== undefined) {
      const balance = await this.deps.wallet.balance(principal).catch(() => undefined);
      if (balance !== undefined) response.balanceMicroNexCoin = balance;
    }
    return response;
  }

  /** The month's charges (by when each period began), one line per session, with the value distribution. */
  async invoice(principal: Principal, month: string): Promise<InvoiceResponse> {
    const scope = scopeOf(principal);
    const charges = await this.deps.store.listCharges({ ...scope, ...monthRange(month) });
    const terms = await this.deps.store.getMany([...new Set(charges.map((c) => c.sessionId))]);
    const lines = new Map<string, InvoiceResponse['lines'][number]>();
    const distribution = new Map<string, InvoiceResponse['distribution'][number]>();
    for (const c of charges) {
      const billing = terms.get(c.sessionId);
      // At list rates of the tier this period was billed at (a session may have changed tier).
      const rates = billing && c.tier !== billing.terms.tier ? billing.tierTerms[c.tier] : undefined;
      const listTerms = billing && {
        ...billing.terms,
        ...(rates
          ? { activeMicroPerHour: rates.activeMicroPerHour, storageMicroPerHour: rates.storageMicroPerHour }
          : {}),
        discountBasisPoints: 0,
      };
      const list = listTerms ? pricesOf(listTerms)[c.kind] : c.amount;
      const line = lines.get(c.sessionId) ?? {
        sessionId: c.sessionId,
        userId: c.userId,
        tier: c.tier,
        activePeriods: 0,
        pausedPeriods: 0,
        discountBasisPoints: billing?.terms.discountBasisPoints ?? 0,
        listPriceMicroNexCoin: 0,
        totalMicroNexCoin: 0,
        outstandingMicroNexCoin: 0,
      };
      if (c.kind === 'active') line.activePeriods++;
      else line.pausedPeriods++;
      line.listPriceMicroNexCoin += Math.max(list, c.amount);
      line.totalMicroNexCoin += c.amount;
      if (c.status !== 'charged') line.outstandingMicroNexCoin += c.amount;
      lines.set(c.sessionId, line);
      for (const share of c.distribution) {
        const key = `${share.shareId}\u0000${share.account}`;
        const d = distribution.get(key) ?? {
          shareId: share.shareId,
          account: share.account,
          amountMicroNexCoin: 0,
        };
        d.amountMicroNexCoin += share.amount;
        distribution.set(key, d);
      }
    }
    const all = [...lines.values()];
    const listPrice = all.reduce((a, l) => a + l.listPriceMicroNexCoin, 0);
    const total = all.reduce((a, l) => a + l.totalMicroNexCoin, 0);
    const outstanding = all.reduce((a, l) => a + l.outstandingMicroNexCoin, 0);
    return {
      month,
      scope: scope.userId === undefined ? 'tenant' : 'user',
      tenantId: scope.tenantId,
      ...(scope.userId === undefined ? {} : { userId: scope.userId }),
      currency: 'micro-NexCoin',
      periodSeconds: this.deps.metering.policy.periodMs / 1000,
      lines: all,
      totals: {
        listPriceMicroNexCoin: listPrice,
        discountMicroNexCoin: listPrice - total,
        totalMicroNexCoin: total,
        chargedMicroNexCoin: total - outstanding,
        outstandingMicroNexCoin: outstanding,
      },
      distribution: [...distribution.values()],
    };
  }
}
