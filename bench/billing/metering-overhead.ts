// Metering overhead with 10,000 active sessions: CPU milliseconds (user + system, this process) and wall time
// per metering cycle. Sessions are seeded straight into a Canon store (no desktops): Genesis, provisioning and
// Active records written through the store itself. Cycles, on a fake clock:
//   1  first sight: registers every session for billing (its terms) and reads its records
//   2  30 s later: no period has closed — the steady state between minute boundaries
//   3  a minute later: every session has a period to charge — 10,000 charge rows and ledger deductions
//   4  30 s later: steady state again
// Prints figures; never fails on time.
//   node --import tsx bench/billing/metering-overhead.ts [--sessions 10000] [--postgres]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import { BillingStore } from '../../backend-adapter/billing/billing-store.ts';
import { DEFAULT_BILLING_POLICY } from '../../backend-adapter/billing/billing-policy.ts';
import { Metering } from '../../backend-adapter/billing/metering.ts';
import type { CanonStore } from '../../backend-adapter/canon/canon-store.ts';
import { PostgresCanonStore } from '../../backend-adapter/canon/postgres-canon-store.ts';
import { SqliteCanonStore } from '../../backend-adapter/canon/sqlite-canon-store.ts';
import { TenantRegistry } from '../../backend-adapter/tenants/tenant-registry.ts';
import { findTier } from '../../backend-adapter/tiers/tier-catalogue.ts';
import { LedgerWallet } from '../../backend-adapter/wallet/ledger-wallet.ts';
import { createTestDatabase } from '../../test/node/canon/postgres-fixture.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SESSIONS = arg('sessions', 10_000);
const USERS = Math.max(1, Math.floor(SESSIONS / 4));
const T0 = Date.parse('2026-03-02T09:00:00.000Z');
const registry = TenantRegistry.load();
const tenants = registry.tenants.map((t) => t.id);
const tiers = ['basic', 'standard', 'pro', 'ultra'] as const;

async function seed(canon: CanonStore): Promise<void> {
  const started = performance.now();
  const at = (ms: number) => new Date(T0 + ms);
  const batch = 64;
  for (let i = 0; i < SESSIONS; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, SESSIONS - i) }, async (_, j) => {
        const n = i + j;
        const tier = findTier(tiers[n % tiers.length] ?? 'basic');
        if (!tier) throw new Error('tier');
        const sessionId = `bench-${n}`;
        const created = at(-(n % 1000)).toISOString();
        await canon.createSession(
          {
            session: {
              sessionId,
              userId: `user-${n % USERS}`,
              tenantId: tenants[(n % USERS) % tenants.length] ?? 'x',
              tier: tier.id,
              resources: tier.resources,
              state: 'requested',
              createdAt: created,
              canonTimestamp: created,
              handshake: HANDSHAKE,
            },
            runtime: null,
            lastActivityAt: created,
          },
          'bench',
        );
        await canon.transition({
          sessionId,
          from: ['requested'],
          to: 'provisioning',
          action: 'genesis.provisioning',
          actor: 'bench',
          at: at(-(n % 1000)),
        });
        await canon.transition({
          sessionId,
          from: ['provisioning'],
          to: 'active',
          action: 'genesis.active',
          actor: 'bench',
          at: at(n % 1000),
        });
      }),
    );
  }
  console.log(
    `seeded ${SESSIONS} active sessions (${USERS} users) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function run(
  label: string,
  canon: CanonStore,
  wallet: LedgerWallet,
  store: BillingStore,
): Promise<void> {
  await seed(canon);
  for (let u = 0; u < USERS; u++) {
    await wallet.credit(
      { tenantId: tenants[u % tenants.length] ?? 'x', userId: `user-${u}` },
      1_000_000_000_000,
      `bench-fund-${u}`,
    );
  }
  let now = T0 + 5_000;
  const metering = new Metering({
    canon,
    wallet,
    store,
    registry,
    policy: { ...DEFAULT_BILLING_POLICY, balanceTtlMs: 10 * 60_000 },
    logger: pino({ level: 'silent' }),
    clock: () => new Date(now),
  });
  console.log(`\n${label}: ${SESSIONS} active sessions, 60 s periods, settle delay 5 s`);
  const steps: Array<[string, number]> = [
    ['1 first sight (register + read records)', 0],
    ['2 no period closed (steady state)', 30_000],
    ['3 every session charges a period', 45_000],
    ['4 no period closed (steady state)', 30_000],
  ];
  for (const [name, advance] of steps) {
    now += advance;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const report = await metering.runCycle();
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    console.log(
      `  cycle ${name.padEnd(42)} CPU ${String(Math.round((used.user + used.system) / 1000)).padStart(6)} ms  wall ${String(Math.round(wall)).padStart(6)} ms  ` +
        `(read ${report.metered}, recorded ${report.periodsRecorded}, charged ${report.charged}, declined ${report.declined}, failed ${report.failed}, paused ${report.paused.length})`,
    );
  }
}

if (process.argv.includes('--postgres')) {
  const db = await createTestDatabase();
  try {
    const canon = await PostgresCanonStore.open(db.url, { maxConnections: 16 });
    const wallet = await LedgerWallet.openPostgres(db.url);
    const store = await BillingStore.openPostgres(db.url);
    try {
      await run('PostgreSQL', canon, wallet, store);
    } finally {
      await store.closeDb();
      await wallet.close();
      await canon.close();
    }
  } finally {
    await db.drop();
  }
} else {
  const dir = mkdtempSync(join(tmpdir(), 'vsc-bench-metering-'));
  try {
    const file = join(dir, 'canon.sqlite');
    const canon = new SqliteCanonStore(file);
    const wallet = await LedgerWallet.openSqlite(file);
    const store = await BillingStore.openSqlite(file);
    try {
      await run('SQLite', canon, wallet, store);
    } finally {
      await store.closeDb();
      await wallet.close();
      await canon.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
