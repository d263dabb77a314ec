// Billing on real databases (SQLite file, or a PostgreSQL schema) with a fake clock and a runtime that starts
// no desktops, so metering, the gate and the lifecycle can be driven minute by minute.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { AnalyticsEvent } from '../../../backend-adapter/analytics/analytics.ts';
import { BillingStore } from '../../../backend-adapter/billing/billing-store.ts';
import {
  DEFAULT_BILLING_POLICY,
  type BillingPolicy,
} from '../../../backend-adapter/billing/billing-policy.ts';
import { GovernanceGate } from '../../../backend-adapter/billing/governance-gate.ts';
import { BILLING_ACTOR, Metering } from '../../../backend-adapter/billing/metering.ts';
import { Reconciler } from '../../../backend-adapter/billing/reconciliation.ts';
import type { CanonStore } from '../../../backend-adapter/canon/canon-store.ts';
import { PostgresCanonStore } from '../../../backend-adapter/canon/postgres-canon-store.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { InProcessSessionEventBus } from '../../../backend-adapter/events/in-process-session-event-bus.ts';
import type { DeploymentPhase } from '../../../backend-adapter/governance/deployment-phase.ts';
import { DEFAULT_POLICY, type LifecyclePolicy } from '../../../backend-adapter/lifecycle/lifecycle-policy.ts';
import { SessionLifecycle } from '../../../backend-adapter/lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from '../../../backend-adapter/locks/in-process-session-locks.ts';
import type {
  DesktopSample,
  DesktopStatus,
  RuntimeHandle,
  RuntimeProvider,
} from '../../../backend-adapter/runtime/runtime-provider.ts';
import { TenantRegistry } from '../../../backend-adapter/tenants/tenant-registry.ts';
import { LedgerWallet } from '../../../backend-adapter/wallet/ledger-wallet.ts';
import type { Wallet, WalletOwner } from '../../../backend-adapter/wallet/wallet.ts';
import { randomName, rawPostgres } from '../canon/postgres-fixture.ts';

/** A runtime that starts nothing and records what it was asked to do. */
export class FakeRuntime implements RuntimeProvider {
  readonly name = 'fake';
  readonly calls: string[] = [];
  async start(sessionId: string): Promise<RuntimeHandle> {
    this.calls.push(`start ${sessionId}`);
    return {
      kind: 'local',
      pgid: 1,
      pid: 1,
      display: 1,
      host: '127.0.0.1',
      port: 1,
      password: 'p',
      workDir: `/x/${sessionId}`,
    };
  }
  async pause(): Promise<void> {
    this.calls.push('pause');
  }
  async resume(): Promise<void> {
    this.calls.push('resume');
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
  }
  async status(): Promise<DesktopStatus> {
    return 'running';
  }
  async sample(): Promise<DesktopSample | undefined> {
    return undefined;
  }
  async reclaimOrphans(): Promise<string[]> {
    return [];
  }
}

export const T0 = Date.parse('2026-03-02T09:00:00.000Z');

export interface Backend {
  kind: 'sqlite' | 'postgres';
  /** The SQLite file (for raw SQL in tests). */
  file?: string;
  canon: CanonStore;
  /** A ledger and billing records on the database (a new connection each call: another replica). */
  openLedger(clock: () => Date): Promise<LedgerWallet>;
  openStore(): Promise<BillingStore>;
  cleanup(): Promise<void>;
}

export async function sqliteBackend(): Promise<Backend> {
  const dir = await mkdtemp(join(tmpdir(), 'vsc-billing-'));
  const file = join(dir, 'canon.sqlite');
  const canon = new SqliteCanonStore(file);
  const closers: Array<() => Promise<void>> = [];
  return {
    kind: 'sqlite',
    file,
    canon,
    async openLedger(clock) {
      const w = await LedgerWallet.openSqlite(file, { clock });
      closers.push(() => w.close());
      return w;
    },
    async openStore() {
      const s = await BillingStore.openSqlite(file);
      closers.push(() => s.closeDb());
      return s;
    },
    async cleanup() {
      for (const c of closers) await c().catch(() => undefined);
      await canon.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function postgresBackend(url: string): Promise<Backend> {
  const schema = randomName('billing');
  const canon = await PostgresCanonStore.open(url, { schema });
  const closers: Array<() => Promise<void>> = [];
  return {
    kind: 'postgres',
    canon,
    async openLedger(clock) {
      const w = await LedgerWallet.openPostgres(url, { schema, clock, maxConnections: 4 });
      closers.push(() => w.close());
      return w;
    },
    async openStore() {
      const s = await BillingStore.openPostgres(url, { schema, maxConnections: 4 });
      closers.push(() => s.closeDb());
      return s;
    },
    async cleanup() {
      for (const c of closers) await c().catch(() => undefined);
      await canon.close();
      await rawPostgres(url, 'public')(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

export const silent: Logger = pino({ level: 'silent' });

/** A deduction for `sessionId` that no charge of billing's accounts for (what reconciliation must find). */
export async function rogueDeduction(
  ledger: LedgerWallet,
  owner: WalletOwner,
  sessionId: string,
  amount: number,
  idempotencyKey: string,
): Promise<void> {
  await ledger.deduct({
    owner,
    amount,
    idempotencyKey,
    description: 'unaccounted',
    category: 'compute',
    module: 'v-supercore',
    distribution: [{ shareId: 'platform', account: 'n3xus:platform-treasury', amount }],
    metadata: { sessionId, period: '2' },
  });
}

export interface BillingRig {
  backend: Backend;
  clock: { now: number; date: () => Date };
  registry: TenantRegistry;
  ledger: LedgerWallet;
  store: BillingStore;
  metering: Metering;
  gate: GovernanceGate;
  lifecycle: SessionLifecycle;
  runtime: FakeRuntime;
  reconciler: Reconciler;
  tracked: AnalyticsEvent[];
  advance(ms: number): void;
  cleanup(): Promise<void>;
}

/** The whole of billing and governance around a lifecycle with a fake runtime. */
export async function billingRig(
  options: {
    backend?: Backend;
    phase?: DeploymentPhase;
    policy?: Partial<BillingPolicy>;
    lifecyclePolicy?: Partial<LifecyclePolicy>;
    registry?: TenantRegistry;
    wallet?: (ledger: LedgerWallet) => Wallet;
    runtime?: FakeRuntime;
  } = {},
): Promise<BillingRig> {
  const backend = options.backend ?? (await sqliteBackend());
  const clock = { now: T0, date: () => new Date(clock.now) };
  const registry = options.registry ?? TenantRegistry.load();
  const ledger = await backend.openLedger(clock.date);
  const wallet = options.wallet ? options.wallet(ledger) : ledger;
  const store = await backend.openStore();
  const tracked: AnalyticsEvent[] = [];
  const policy = { ...DEFAULT_BILLING_POLICY, settleDelayMs: 0, balanceTtlMs: 0, ...options.policy };
  const metering = new Metering({
    canon: backend.canon,
    wallet,
    store,
    registry,
    policy,
    logger: silent,
    clock: clock.date,
    analytics: { track: (e) => void tracked.push(e) },
  });
  const gate = new GovernanceGate({
    registry,
    phase: options.phase ?? '3.5',
    metering,
    wallet,
    store,
    canon: backend.canon,
    logger: silent,
  });
  const runtime = options.runtime ?? new FakeRuntime();
  const lifecycle = new SessionLifecycle({
    canon: backend.canon,
    runtime,
    events: new InProcessSessionEventBus(),
    locks: new InProcessSessionLocks(),
    policy: { ...DEFAULT_POLICY, ...options.lifecyclePolicy },
    logger: silent,
    clock: clock.date,
    gate,
  });
  metering.pause = (id) => lifecycle.pauseAsSystem(id, BILLING_ACTOR);
  const reconciler = new Reconciler({
    canon: backend.canon,
    store,
    wallet,
    logger: silent,
    clock: clock.date,
  });
  return {
    backend,
    clock,
    registry,
    ledger,
    store,
    metering,
    gate,
    lifecycle,
    runtime,
    reconciler,
    tracked,
    advance(ms) {
      clock.now += ms;
    },
    cleanup: () => backend.cleanup(),
  };
}
