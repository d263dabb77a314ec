import type { Logger } from 'pino';
import type { Tier } from '../../protocol/session.ts';
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
import type { BillingStore } from './billing-store.ts';
import type { Metering } from './metering.ts';
import { pricesOf } from './pricing.ts';

export interface GovernanceGateDeps {
  registry: TenantRegistry;
  phase: DeploymentPhase;
  metering: Metering;
  wallet: Wallet;
  store: BillingStore;
  canon: CanonStore;
  logger: Logger;
}

/** States in which a session is running (or about to) and so costs the Active rate each period. */
const RUNNING = new Set(['requested', 'provisioning', 'active', 'resuming']);

/**
 * Billing and governance at the lifecycle's doors:
 * - phase governance: GPU tiers only from phase 3.5; the phase's concurrent-session ceiling;
 * - tenant governance: a tenant's allowed tiers, early-access tiers for tenants with that right (founding),
 *   the tenant's custom limits, and the last slots of the ceiling kept for priority tenants;
 * - billing: Genesis and resume need a balance (less what is owed) covering `reservePeriods` periods of all
 *   of the user's running sessions including this one; the session is registered for metering with its
 *   terms before anything is provisioned.
 */
export class GovernanceGate implements SessionGate {
  constructor(private readonly deps: GovernanceGateDeps) {}

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
    const availability = this.tierAvailability(principal, tier, true);
    if (!availability.allowed) {
      throw new ApiError('TIER_NOT_ALLOWED', availability.notAllowedReason, {
        tier: tier.id,
        phase: this.deps.phase,
      });
    }
    const limits = this.limitsFor(principal, defaults);
    const owner = { tenantId: principal.tenantId, userId: principal.userId };
    const price = pricesOf(this.deps.metering.termsFor(tier.id, principal.tenantId)).active;
    await this.requireBalance(owner, price, undefined);
    await this.deps.metering.register({
      sessionId,
      tenantId: owner.tenantId,
      userId: owner.userId,
      tier: tier.id,
    });
    return limits;
  }

  async admitResume(row: SessionRow): Promise<void> {
    const billing =
      (await this.deps.store.get(row.session.sessionId)) ?? (await this.deps.metering.register(row.session));
    await this.requireBalance(row.session, billing.prices.active, row.session.sessionId);
  }

  async usageCost(row: SessionRow, records: readonly CanonRecord[], end: Date): Promise<number> {
    return this.deps.metering.usageCost(row, records, end);
  }

  /**
   * Refuses with BALANCE_TOO_LOW unless the balance, less what is owed, covers `reservePeriods` periods of
   * this session and of the user's other running sessions.
   */
  private async requireBalance(owner: WalletOwner, price: number, self: string | undefined): Promise<void> {
    const { reservePeriods, periodMs } = this.deps.metering.policy;
    const others = (await this.deps.canon.listSessions(owner)).filter(
      (r) => RUNNING.has(r.session.state) && r.session.sessionId !== self,
    );
    const rows = await this.deps.store.getMany(others.map((r) => r.session.sessionId));
    const othersPerPeriod = others.reduce(
      (a, r) =>
        a +
        (rows.get(r.session.sessionId)?.prices.active ??
          pricesOf(this.deps.metering.termsFor(r.session.tier, r.session.tenantId)).active),
      0,
    );
    const required = reservePeriods * (price + othersPerPeriod);
    let balance: number;
    let outstanding: number;
    try {
      [balance, outstanding] = await Promise.all([
        this.deps.wallet.balance(owner),
        this.deps.store.outstanding(owner),
      ]);
    } catch (error) {
      this.deps.logger.warn({ ...owner, err: error }, 'NexCoin wallet unavailable at the billing check');
      throw new ApiError('NOT_READY', 'The NexCoin wallet did not answer; nothing was started.');
    }
    if (balance - outstanding < required) {
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
