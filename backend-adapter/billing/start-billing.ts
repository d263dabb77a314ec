import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Session } from '../../protocol/session.ts';
import type { Analytics } from '../analytics/analytics.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { SessionEventBus } from '../events/session-event-bus.ts';
import { PHASE_TABLE, type DeploymentPhase } from '../governance/deployment-phase.ts';
import type { SessionLifecycle } from '../lifecycle/session-lifecycle.ts';
import { TenantRegistry } from '../tenants/tenant-registry.ts';
import { HttpWallet } from '../wallet/http-wallet.ts';
import { LedgerWallet } from '../wallet/ledger-wallet.ts';
import type { Wallet } from '../wallet/wallet.ts';
import type { BillingConfig } from './billing-config.ts';
import type { BillingMetricsSink } from './billing-metrics.ts';
import { BillingPersonalData } from './billing-privacy.ts';
import { BillingStore } from './billing-store.ts';
import { GovernanceGate } from './governance-gate.ts';
import { BILLING_ACTOR, Metering } from './metering.ts';
import { Reconciler, type ReconciliationReport } from './reconciliation.ts';
import { Statements } from './statements.ts';
import type { PoolConnections } from '../sql/pool-connections.ts';

/** One 55-45-17 check as billing and governance evaluate it. */
export interface GovernanceCheckResult {
  ok: boolean;
  evidence: string;
}

/** What the handshake report's billing ("45") and tenant/phase governance ("17") checks rest on. */
export interface GovernanceReport {
  billing: GovernanceCheckResult;
  tenantRegistry: GovernanceCheckResult;
  valueDistribution: GovernanceCheckResult;
  foundingRights: GovernanceCheckResult;
  phase: GovernanceCheckResult & { phase: DeploymentPhase; maxConcurrentSessions: number };
}

export interface Billing {
  registry: TenantRegistry;
  phase: DeploymentPhase;
  wallet: Wallet;
  store: BillingStore;
  metering: Metering;
  gate: GovernanceGate;
  reconciler: Reconciler;
  statements: Statements;
  /** Billing's part of GDPR/CCPA export and erasure (a PersonalDataHolder). */
  privacy: BillingPersonalData;
  lastReconciliation: ReconciliationReport | undefined;
  /** Starts metering (and the reconciliation job) for this lifecycle; pauses go through it as system:billing. */
  start(lifecycle: SessionLifecycle, events: SessionEventBus, analytics?: Analytics): void;
  /** Reports charges, failures, low-balance actions, refusals and reconciliations to `sink` (Prometheus). */
  useMetrics(sink: BillingMetricsSink): void;
  /** Session objects with the cost so far filled in. */
  withCosts(sessions: Session[]): Promise<Session[]>;
  /** The PostgreSQL pools of the embedded ledger and of billing's records (none on SQLite). */
  connectionPools(): Array<{ pool: string; connections: PoolConnections }>;
  governanceReport(): Promise<GovernanceReport>;
  close(): Promise<void>;
}

/**
 * Opens billing beside Canon Memory: the tenant registry (validated; an invalid one stops the start), the
 * wallet (the embedded ledger in Canon's database, or the NexCoin service over HTTP), billing's records, the
 * metering and the gate the lifecycle consults.
 */
export async function openBilling(options: {
  config: BillingConfig;
  canon: CanonStore;
  /** Canon Memory's PostgreSQL URL; SQLite in `dataDir` when absent. */
  canonDatabaseUrl?: string;
  dataDir: string;
  logger: Logger;
  clock?: () => Date;
}): Promise<Billing> {
  const { config, canon, logger } = options;
  const registry = TenantRegistry.load(config.tenantRegistryPath);
  const sqliteFile = join(options.dataDir, 'canon.sqlite');
  const closers: Array<() => Promise<void>> = [];
  try {
    let wallet: Wallet;
    let ledger: LedgerWallet | undefined;
    if (config.wallet.kind === 'http') {
      wallet = new HttpWallet({
        baseUrl: config.wallet.url,
        ...(config.wallet.token ? { token: config.wallet.token } : {}),
        timeoutMs: config.wallet.timeoutMs,
        retries: config.wallet.retries,
      });
    } else {
      const ledgerOptions = {
        openingBalance: config.wallet.openingBalance,
        ...(options.clock ? { clock: options.clock } : {}),
      };
      ledger = options.canonDatabaseUrl
        ? await LedgerWallet.openPostgres(options.canonDatabaseUrl, ledgerOptions)
        : await LedgerWallet.openSqlite(sqliteFile, ledgerOptions);
      wallet = ledger;
    }
    closers.push(() => wallet.close());
    const store = options.canonDatabaseUrl
      ? await BillingStore.openPostgres(options.canonDatabaseUrl)
      : await BillingStore.openSqlite(sqliteFile);
    closers.push(() => store.closeDb());

    const metering = new Metering({
      canon,
      wallet,
      store,
      registry,
      policy: config.policy,
      logger,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const gate = new GovernanceGate({
      registry,
      phase: config.phase,
      metering,
      wallet,
      store,
      canon,
      logger,
    });
    const reconciler = new Reconciler({
      canon,
      store,
      wallet,
      logger,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const statements = new Statements({
      canon,
      store,
      wallet,
      metering,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe: (() => void) | undefined;
    let metrics: BillingMetricsSink | undefined;

    const billing: Billing = {
      registry,
      phase: config.phase,
      wallet,
      store,
      metering,
      gate,
      reconciler,
      statements,
      privacy: new BillingPersonalData({ store, wallet, metering }),
      lastReconciliation: undefined,
      start(lifecycle, events, analytics) {
        metering.pause = (sessionId) => lifecycle.pauseAsSystem(sessionId, BILLING_ACTOR);
        if (analytics) metering.analytics = analytics;
        const cycle = setInterval(() => {
          metering.runCycle().catch((err: unknown) => logger.error({ err }, 'metering cycle failed'));
        }, config.policy.cycleIntervalMs);
        cycle.unref();
        const reconcileNow = () => {
          reconciler
            .run()
            .then((r) => {
              billing.lastReconciliation = r;
              metrics?.reconciled(r);
            })
            .catch((err: unknown) => logger.error({ err }, 'billing reconciliation failed'));
        };
        const reconcile = setInterval(reconcileNow, config.policy.reconciliationIntervalMs);
        reconcile.unref();
        // The first run comes one metering cycle after start, not a whole interval (a day): a replica
        // restarted more often than that would otherwise never reconcile. Its window reaches back two days.
        const firstReconcile = setTimeout(reconcileNow, config.policy.cycleIntervalMs);
        firstReconcile.unref();
        timers.push(cycle, reconcile, firstReconcile);
        // A session that ended has its last periods charged within moments, together with others that ended
        // then, on every replica (idempotently).
        unsubscribe = events.subscribe((e) => {
          metering.forgetRecords(e.session.sessionId);
          if (e.session.state !== 'terminated' && e.session.state !== 'failed') return;
          metering.forgetRegistration(e.session.sessionId);
          metering.meterWhenFinished(e.session);
        });
        void metering.runCycle().catch((err: unknown) => logger.error({ err }, 'metering cycle failed'));
      },
      useMetrics(sink) {
        metrics = sink;
        metering.metrics = sink;
        gate.metrics = sink;
      },
      withCosts: (sessions) => metering.withCosts(sessions),
      connectionPools() {
        const pools: Array<{ pool: string; connections: PoolConnections }> = [];
        const walletPool = ledger?.connections();
        if (walletPool) pools.push({ pool: 'wallet', connections: walletPool });
        const billingPool = store.connections();
        if (billingPool) pools.push({ pool: 'billing', connections: billingPool });
        return pools;
      },
      async governanceReport() {
        const rules = PHASE_TABLE[config.phase];
        let walletOk = true;
        let walletEvidence = `NexCoin wallet (${wallet.kind}) answered`;
        try {
          await wallet.listEntries({ tenantId: 'n3xus-handshake', userId: 'probe' });
        } catch (error) {
          walletOk = false;
          walletEvidence = `NexCoin wallet (${wallet.kind}) did not answer: ${error instanceof Error ? error.message : String(error)}`;
        }
        const last = metering.lastCycle;
        const stale =
          last !== undefined && Date.now() - Date.parse(last.at) > 4 * config.policy.cycleIntervalMs + 60_000;
        const unsettled = (await store.listUnsettled(1000)).length;
        return {
          billing: {
            ok: walletOk && !stale,
            evidence: `${walletEvidence}; every session metered every ${config.policy.cycleIntervalMs / 1000} s in ${config.policy.periodMs / 1000}-second periods (Active at the tier rate, Paused at the storage rate), one idempotency key per (session, period); Genesis needs ${config.policy.reservePeriods} periods of balance; last cycle ${last ? `${last.at} (${Math.round(last.durationMs)} ms)` : 'pending'}${stale ? ' — STALE' : ''}; ${unsettled} charge(s) awaiting the wallet`,
          },
          tenantRegistry: registry.checkTenantRegistry(),
          valueDistribution: registry.checkValueDistribution(),
          foundingRights: registry.checkFoundingRights(),
          phase: {
            ok: true,
            phase: config.phase,
            maxConcurrentSessions: rules.maxConcurrentSessions,
            evidence: `deployment phase ${config.phase} (${rules.label}): at most ${rules.maxConcurrentSessions} concurrent sessions cluster-wide, GPU tiers ${rules.gpu ? 'allowed' : 'refused until phase 3.5'}; enforced at Genesis and shown in GET /api/v1/tiers`,
          },
        };
      },
      async close() {
        for (const t of timers) clearInterval(t);
        unsubscribe?.();
        await metering.idle();
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
    return billing;
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
