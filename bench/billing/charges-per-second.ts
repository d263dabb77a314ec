// Charges per second on the embedded NexCoin ledger — SQLite (the default) and PostgreSQL — with idempotency
// checks on (every deduction looks its key up and inserts it under a unique index) and the 80/20 split
// posted. Also: replays (the same key again) and, on PostgreSQL, concurrent charges from a pool.
// Prints figures; never fails on time.
//   node --import tsx bench/billing/charges-per-second.ts [--charges 20000] [--no-postgres]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TenantRegistry } from '../../backend-adapter/tenants/tenant-registry.ts';
import { LedgerWallet } from '../../backend-adapter/wallet/ledger-wallet.ts';
import type { DeductRequest, WalletOwner } from '../../backend-adapter/wallet/wallet.ts';
import { createTestDatabase } from '../../test/node/canon/postgres-fixture.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CHARGES = arg('charges', 20_000);
const USERS = 200;
const registry = TenantRegistry.load();
const tenants = registry.tenants.map((t) => t.id);
const owners: WalletOwner[] = Array.from({ length: USERS }, (_, i) => ({
  tenantId: tenants[i % tenants.length] ?? 'x',
  userId: `bench-user-${i}`,
}));

function request(i: number, run: string): DeductRequest {
  const owner = owners[i % USERS] as WalletOwner;
  const amount = 8_334;
  return {
    owner,
    amount,
    idempotencyKey: `v-supercore:charge:${run}-${i % USERS}:${Math.floor(i / USERS)}`,
    description: 'v-SuperCore basic - 1 min active',
    category: 'compute',
    module: 'v-supercore',
    distribution: registry.distribute(owner.tenantId, amount),
    metadata: { sessionId: `${run}-${i % USERS}`, period: String(Math.floor(i / USERS)) },
  };
}

async function measure(label: string, count: number, work: (i: number) => Promise<unknown>, concurrency = 1) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await work(next++);
    }),
  );
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  console.log(
    `${label.padEnd(58)} ${String(Math.round((count / ms) * 1000)).padStart(7)} charges/s  ` +
      `(${count} in ${(ms / 1000).toFixed(2)} s, ${((used.user + used.system) / 1000 / count).toFixed(3)} ms CPU each)`,
  );
}

async function bench(label: string, wallet: LedgerWallet, concurrencies: number[]): Promise<void> {
  for (const o of owners) await wallet.credit(o, 1_000_000_000_000, `bench-fund:${label}:${o.userId}`);
  for (const c of concurrencies) {
    const run = `${label}-c${c}`;
    await measure(
      `${label}: new charges, concurrency ${c}`,
      CHARGES,
      (i) => wallet.deduct(request(i, run)),
      c,
    );
    await measure(
      `${label}: replays (same key again), concurrency ${c}`,
      Math.min(CHARGES, 5_000),
      (i) => wallet.deduct(request(i, run)),
      c,
    );
  }
  const audit = await wallet.audit();
  console.log(
    `${label}: audit — ${audit.transactions} transactions, unbalanced ${audit.unbalancedTransactions}, wallet mismatches ${audit.walletBalanceMismatches}, postings sum ${audit.postingsTotal}`,
  );
}

console.log(
  `Embedded ledger, ${CHARGES} charges over ${USERS} wallets, 80/20 split posted, idempotency on\n`,
);
const dir = mkdtempSync(join(tmpdir(), 'vsc-bench-ledger-'));
try {
  const wallet = await LedgerWallet.openSqlite(join(dir, 'canon.sqlite'));
  try {
    await bench('SQLite (WAL, synchronous FULL)', wallet, [1]);
  } finally {
    await wallet.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (!process.argv.includes('--no-postgres')) {
  const db = await createTestDatabase();
  try {
    const wallet = await LedgerWallet.openPostgres(db.url, { maxConnections: 16 });
    try {
      await bench('PostgreSQL', wallet, [1, 16]);
    } finally {
      await wallet.close();
    }
  } finally {
    await db.drop();
  }
}
