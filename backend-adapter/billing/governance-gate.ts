import type { Logger } from 'pino';
import type { Tier, TierPrice } from '../../protocol/session.ts';
import { ApiError } from '../api-error.ts';
import type { Principal } from '../auth/principal.ts';
import type { CanonRecord, CanonStore, GenesisLimits, SessionRow } from '../canon/canon-store.ts';
import {
  firstPhaseFor,
  PHASE_TABLE,
  phaseAllows,
  type DeploymentPhase,
} from '../governance/deployment-phase.ts';
import type { SessionGate, TierAvailability } from '../lifecycle/session-gate.ts';
import type { TenantRegistry } from '../tenants/tenant-registry.ts';
import type { Wallet, WalletOwner } from '../wallet/wallet.ts';
import { pricesAt, type BillingSessionRow, type BillingStore } from './billing-store.ts';
import type { HoldRequest } from './holds.ts';
import type { BillingMetricsSink } from './billing-metrics.ts';
import type { Metering } from './metering.ts';
import { discountedRate, pricesOf } from './pricing.ts';

export interface GovernanceGateDeps {
  registry: TenantRegistry;
  phase: DeploymentPhase;
  metering: Metering;
  wallet: Wallet;
  store: BillingStore;
  canon: CanonStore;
  logger: Logger;
  clock?: () => Date;
}

/** States in which a session is running (or about to) and so costs the Active rate each period. */
const RUNNING = new Set(['requested', 'provisioning', 'active', 'resuming', 'restarting']);
/** A hold whose launch never reached Canon Memory (the adapter died in between) stops counting after this. */
const STALE_HOLD_MS = 10 * 60_000;
const EMPTY: ReadonlyMap<string, BillingSessionRow> = new Map();

/**
 * Billing and governance at the lifecycle's doors:
 * - phase governance: GPU tiers only from phase 3.5; the phase's concurrent-session ceiling;
 * - tenant governance: a tenant's allowed tiers, early-access tiers for tenants with that right (founding),
 *   the tenant's custom limits, and the last slots of the ceiling kept for priority tenants;
 * - billing: Genesis and resume need a balance (less what is owed) covering `reservePeriods` periods of all
 *   of the user's running sessions including this one; the session is registered for metering with its
 *   terms before anything is provisioned. The check takes a hold (billing-store.ts `hold`) atomically with
 *   every other launch of the same user, so two launches cannot both spend a balance that covers one; the
 *   hold lasts until the session's first charge (or its end, or a failed launch).
 */
export class GovernanceGate implements SessionGate {
  private readonly clock: () => Date;
  /** Where BALANCE_TOO_LOW refusals are counted (Prometheus). */
  metrics: BillingMetricsSink | undefined;

  constructor(private readonly deps: GovernanceGateDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  tierAvailability(principal: Principal, tier: Tier, subscriptionAllows: boolean): TierAvailability {
    const { phase, registry } = this.deps;
    if (!phaseAllows(phase, tier)) {
      return {
        allowed: false,
        notAllowedReason: `GPU tiers arrive in deployment phase ${firstPhaseFor(tier)}; this deployment is phase ${phase}.`,
      };
    }
    const terms = registry.termsFor(principal.tenantId);
    const allowedTiers = terms.configuration.allowedTiers;
    if (allowedTiers && !allowedTiers.includes(tier.id)) {
      return {
        allowed: false,
        notAllowedReason: `Your organisation (${terms.name}) has not enabled the ${tier.label} tier.`,
      };
    }
    if (tier.earlyAccess && !terms.earlyAccess) {
      return {
        allowed: false,
        notAllowedReason: `The ${tier.label} tier is in early access for founding tenants.`,
      };
    }
    if (!subscriptionAllows) {
      return {
        allowed: false,
        notAllowedReason: `Needs the ${tier.minimumSubscription} subscription or higher.`,
      };
    }
    return { allowed: true };
  }

  /** The tenant's discounted rates (what metering will bill this caller), when the tenant has a discount. */
  tierPrice(principal: Principal, tier: Tier): TierPrice | undefined {
    const terms = this.deps.registry.termsFor(principal.tenantId);
    const bp = terms.discountBasisPoints;
    if (bp <= 0) return undefined;
    return {
      microNexCoinPerHour: discountedRate(tier.microNexCoinPerHour, bp),
      storageMicroNexCoinPerHour: discountedRate(tier.storageMicroNexCoinPerHour ?? 0, bp),
      discountBasisPoints: bp,
      reason: terms.founding ? 'founding' : 'tenant',
    };
  }

  /** The limits for this caller: tenant overrides, the phase ceiling, and the reserve for priority tenants. */
  limitsFor(principal: Principal, defaults: GenesisLimits): GenesisLimits {
    const terms = this.deps.registry.termsFor(principal.tenantId);
    const ceiling = defaults.cluster.maxSessions;
    const reserved = Math.floor(
      (ceiling * this.deps.registry.document.allocation.reservedBasisPoints) / 10_000,
    );
    return {
      ...defaults,
      ...terms.limits,
      cluster: {
        ...defaults.cluster,
        maxSessions: terms.priorityAllocation ? ceiling : Math.max(0, ceiling - reserved),
      },
    };
  }

  async admitGenesis(
    principal: Principal,
    tier: Tier,
    sessionId: string,
    defaults: GenesisLimits,
  ): Promise<GenesisLimits> {
    // The subscription was checked by the lifecycle already.
    this.requireTierAvailable(principal, tier);
    const limits = this.limitsFor(principal, defaults);
    const owner = { tenantId: principal.tenantId, userId: principal.userId };
    const registration = this.deps.metering.registrationFor(tier.id, principal.tenantId);
    // The session is registered for metering together with its hold.
    await this.requireBalance(owner, registration.prices.active, sessionId, 'genesis', registration);
    return limits;
  }

  /** Phase, tenant configuration and early access allow `tier` for this caller, or TIER_NOT_ALLOWED. */
  private requireTierAvailable(principal: Principal, tier: Tier): void {
    const availability = this.tierAvailability(principal, tier, true);
    if (!availability.allowed) {
      throw new ApiError('TIER_NOT_ALLOWED', availability.notAllowedReason, {
        tier: tier.id,
        phase: this.deps.phase,
      });
    }
  }

  async genesisAbandoned(sessionId: string): Promise<void> {
    this.deps.metering.forgetRegistration(sessionId);
    await this.deps.store.releaseHolds([sessionId], this.clock());
  }

  async admitResume(row: SessionRow): Promise<void> {
    const billing =
      (await this.deps.store.get(row.session.sessionId)) ?? (await this.deps.metering.register(row.session));
    const price = pricesAt(billing, row.session.tier)?.active ?? billing.prices.active;
    await this.requireBalance(row.session, price, row.session.sessionId, 'resume');
  }

  async admitTierChange(
    principal: Principal,
    row: SessionRow,
    tier: Tier,
    defaults: GenesisLimits,
  ): Promise<GenesisLimits> {
    this.requireTierAvailable(principal, tier);
    // The new tier's rates are fixed now (at the session's discount), before the change is recorded.
    const billing = await this.deps.metering.addTier(row.session, tier.id);
    const prices = pricesAt(billing, tier.id);
    if (!prices) throw new Error(`no prices recorded for tier ${tier.id}`);
    // Enough for the new tier's first periods: its Active rate, or its storage rate while paused.
    await this.requireBalance(
      row.session,
      row.session.state === 'active' ? prices.active : prices.paused,
      row.session.sessionId,
      'tier_change',
    );
    // The session's owner's limits (a tenant admin may change another user's session).
    return this.limitsFor({ ...principal, tenantId: row.session.tenantId }, defaults);
  }

  async usageCost(
    row: SessionRow,
    records: readonly CanonRecord[] | Promise<readonly CanonRecord[]>,
    end: Date,
  ): Promise<number> {
    return this.deps.metering.usageCost(row, records, end);
  }

  /**
   * Refuses with BALANCE_TOO_LOW unless the balance, less what is owed, covers `reservePeriods` periods of
   * this session and of the user's other running sessions, counting launches still in flight by their holds;
   * otherwise takes this session's hold, atomically with every other check of the same user.
   */
  private async requireBalance(
    owner: WalletOwner,
    price: number,
    self: string,
    door: 'genesis' | 'resume' | 'tier_change',
    register?: HoldRequest['register'],
  ): Promise<void> {
    const { reservePeriods, periodMs } = this.deps.metering.policy;
    // The wallet is asked while the sessions are read: one wait less on every launch. Its answer is settled
    // here so that a refusal below never leaves it unobserved.
    const balanceRead = this.deps.wallet.balance(owner).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    // Only the user's live sessions: a user with a long history must not make every launch slower.
    const owned = await this.deps.canon.listSessions({
      tenantId: owner.tenantId,
      userId: owner.userId,
      liveOnly: true,
    });
    const others = owned.filter((r) => RUNNING.has(r.session.state) && r.session.sessionId !== self);
    const { metering } = this.deps;
    // Sessions this replica launched are priced from their registration: the rows of the others are read.
    const unknown = others.filter((r) => !metering.registeredPrices(r.session.sessionId, r.session.tier));
    const rows =
      unknown.length > 0 ? await this.deps.store.getMany(unknown.map((r) => r.session.sessionId)) : EMPTY;
    const running = new Map<string, number>();
    for (const r of others) {
      const billing = rows.get(r.session.sessionId);
      const perPeriod =
        metering.registeredPrices(r.session.sessionId, r.session.tier)?.active ??
        (billing && pricesAt(billing, r.session.tier)?.active) ??
        pricesOf(metering.termsFor(r.session.tier, r.session.tenantId)).active;
      running.set(r.session.sessionId, reservePeriods * perPeriod);
    }
    const live = new Set(owned.map((r) => r.session.sessionId));
    const read = await balanceRead;
    if ('error' in read) {
      this.deps.logger.warn({ ...owner, err: read.error }, 'NexCoin wallet unavailable at the billing check');
      throw new ApiError('NOT_READY', 'The NexCoin wallet did not answer; nothing was started.');
    }
    const balance = read.value;
    const now = this.clock();
    const result = await this.deps.store.hold({
      sessionId: self,
      owner: { tenantId: owner.tenantId, userId: owner.userId },
      balance,
      amount: reservePeriods * price,
      running,
      live,
      staleBefore: new Date(now.getTime() - STALE_HOLD_MS),
      at: now,
      ...(register ? { register } : {}),
    });
    if (result.ok && register)
      this.deps.metering.rememberRegistration({ sessionId: self, ...owner }, register);
    if (!result.ok) {
      this.metrics?.balanceRefused(door);
      const { outstanding, required } = result;
      throw new ApiError(
        'BALANCE_TOO_LOW',
        `Your NexCoin balance (${balance} µNXC${outstanding > 0 ? `, of which ${outstanding} owed` : ''}) does not cover ${reservePeriods} billing periods of ${periodMs / 1000} s (${required} µNXC).`,
        {
          balanceMicroNexCoin: balance,
          outstandingMicroNexCoin: outstanding,
          requiredMicroNexCoin: required,
          periodSeconds: periodMs / 1000,
        },
      );
    }
  }

  /** The phase's rules, for reports. */
  get phaseRules() {
    return PHASE_TABLE[this.deps.phase];
  }
}
