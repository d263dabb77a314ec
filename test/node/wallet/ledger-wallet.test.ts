import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { SQLITE_MIGRATIONS } from '../../../backend-adapter/canon/sqlite-migrations.ts';
import { PostgresCanonStore } from '../../../backend-adapter/canon/postgres-canon-store.ts';
import { PostgresSqlDb, type SqlDb } from '../../../backend-adapter/sql/sql-db.ts';
import { LedgerWallet } from '../../../backend-adapter/wallet/ledger-wallet.ts';
import {
  InsufficientFundsError,
  type DeductRequest,
  type WalletOwner,
} from '../../../backend-adapter/wallet/wallet.ts';
import { randomName, rawPostgres, useTestDatabase } from '../canon/postgres-fixture.ts';
import { socketWrites } from '../sql/socket-writes.ts';
import { describeWalletContract } from './wallet-contract.ts';

async function tempFile(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vsc-ledger-'));
  return { dir, file: join(dir, 'canon.sqlite') };
}

const url = useTestDatabase();

/** Runs `body` on a ledger in a new SQLite file, then removes the file. */
async function withSqliteLedger(body: (wallet: LedgerWallet) => Promise<void>): Promise<void> {
  const { dir, file } = await tempFile();
  const wallet = await LedgerWallet.openSqlite(file);
  try {
    await body(wallet);
  } finally {
    await wallet.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A deduction of `amount` from `owner` under `key`, split between the platform and the tenant's creators. */
function deduction(owner: WalletOwner, amount: number, key: string): DeductRequest {
  return {
    owner,
    amount,
    idempotencyKey: key,
    description: `charge ${key}`,
    category: 'compute',
    module: 'v-supercore',
    distribution: [
      { shareId: 'platform', account: 'n3xus:platform-treasury', amount: amount - Math.floor(amount / 5) },
      {
        shareId: 'creators',
        account: `tenant:${owner.tenantId}:creator-pool`,
        amount: Math.floor(amount / 5),
      },
    ],
    metadata: { sessionId: `s-${key}` },
  };
}

/** Runs `body` on a ledger in a new PostgreSQL schema, then drops the schema. */
async function withPostgresLedger(
  body: (wallet: LedgerWallet, schema: string) => Promise<void>,
  options: { maxConnections?: number } = {},
): Promise<void> {
  const schema = randomName('ledger');
  const wallet = await LedgerWallet.openPostgres(url(), { schema, ...options });
  try {
    await body(wallet, schema);
  } finally {
    await wallet.close();
    await rawPostgres(url(), 'public')(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

describeWalletContract('embedded ledger on SQLite', async () => {
  const { dir, file } = await tempFile();
  const wallet = await LedgerWallet.openSqlite(file);
  const others: LedgerWallet[] = [];
  return {
    wallet,
    fund: async (owner, amount) => void (await wallet.credit(owner, amount, `fund-${Math.random()}`)),
    second: async () => {
      const other = await LedgerWallet.openSqlite(file);
      others.push(other);
      return other;
    },
    async cleanup() {
      const audit = await wallet.audit();
      assert.equal(audit.unbalancedTransactions, 0);
      assert.equal(audit.walletBalanceMismatches, 0);
      assert.equal(audit.postingsTotal, 0n);
      await wallet.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeWalletContract('embedded ledger on PostgreSQL', async () => {
  const schema = randomName('ledger');
  const wallet = await LedgerWallet.openPostgres(url(), { schema });
  return {
    wallet,
    fund: async (owner, amount) => void (await wallet.credit(owner, amount, `fund-${Math.random()}`)),
    second: () => LedgerWallet.openPostgres(url(), { schema }),
    async cleanup() {
      const audit = await wallet.audit();
      assert.equal(audit.unbalancedTransactions, 0);
      assert.equal(audit.walletBalanceMismatches, 0);
      assert.equal(audit.postingsTotal, 0n);
      await wallet.close().catch(() => undefined);
      await rawPostgres(url(), 'public')(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
});

describe('embedded ledger, beyond the contract', () => {
  it('lives in Canon Memory’s own database file beside Canon’s tables, versioned on its own', async () => {
    const { dir, file } = await tempFile();
    const canon = new SqliteCanonStore(file);
    const wallet = await LedgerWallet.openSqlite(file, { openingBalance: 7_000_000 });
    try {
      assert.equal(await wallet.balance({ tenantId: 't', userId: 'u' }), 7_000_000);
      const raw = new Database(file, { readonly: true });
      try {
        const tables = raw
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
          .all()
          .map((r) => (r as { name: string }).name);
        for (const t of [
          'sessions',
          'canon_records',
          'ledger_accounts',
          'ledger_transactions',
          'ledger_postings',
        ]) {
          assert.ok(tables.includes(t), t);
        }
        assert.deepEqual(
          raw.prepare("SELECT version FROM component_migrations WHERE component = 'ledger'").all(),
          [{ version: 1 }],
        );
        // Canon's own version list is untouched by the ledger.
        assert.equal(canon.schemaVersion(), Math.max(...SQLITE_MIGRATIONS.map((m) => m.version)));
      } finally {
        raw.close();
      }
    } finally {
      await wallet.close();
      await canon.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('grants the opening balance once per wallet, even to two ledgers opening it together', async () => {
    const { dir, file } = await tempFile();
    const a = await LedgerWallet.openSqlite(file, { openingBalance: 1_000 });
    const b = await LedgerWallet.openSqlite(file, { openingBalance: 1_000 });
    try {
      const owner = { tenantId: 't', userId: 'u' };
      await Promise.all([a.balance(owner), b.balance(owner), a.balance(owner)]);
      assert.equal(await a.balance(owner), 1_000);
      assert.equal((await a.listEntries(owner)).length, 1);
    } finally {
      await a.close();
      await b.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to rewrite or delete an entry (append-only), and a negative wallet (database check)', async () => {
    const { dir, file } = await tempFile();
    const wallet = await LedgerWallet.openSqlite(file, { openingBalance: 10 });
    const owner = { tenantId: 't', userId: 'u' };
    await wallet.balance(owner);
    await wallet.close();
    const raw = new Database(file);
    try {
      assert.throws(() => raw.prepare('UPDATE ledger_transactions SET amount = 1').run(), /append-only/);
      assert.throws(() => raw.prepare('DELETE FROM ledger_postings').run(), /append-only/);
      assert.throws(
        () => raw.prepare("UPDATE ledger_accounts SET balance = -1 WHERE kind = 'wallet'").run(),
        /CHECK constraint/,
      );
    } finally {
      raw.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never writes a user id into the books, and erasure leaves them complete under the pseudonym', async () => {
    const { dir, file } = await tempFile();
    const wallet = await LedgerWallet.openSqlite(file, { openingBalance: 5_000 });
    const owner = { tenantId: 'puabo', userId: 'alice-7f3e9' };
    try {
      await wallet.deduct({
        owner,
        amount: 1_000,
        idempotencyKey: 'v-supercore:charge:s1:0',
        description: 'v-SuperCore basic - 1 min active',
        category: 'compute',
        module: 'v-supercore',
        distribution: [{ shareId: 'creators', account: 'tenant:puabo:creator-pool', amount: 1_000 }],
        metadata: { sessionId: 's1', period: '0' },
      });
      const dump = (): string => {
        const raw = new Database(file, { readonly: true });
        try {
          return ['ledger_transactions', 'ledger_postings', 'ledger_accounts']
            .map((t) =>
              JSON.stringify(raw.prepare(`SELECT * FROM ${t}`).all(), (_k, v: unknown) =>
                typeof v === 'bigint' ? Number(v) : v,
              ),
            )
            .join('\n');
        } finally {
          raw.close();
        }
      };
      assert.ok(!dump().includes('alice-7f3e9'), 'append-only tables hold subject references only');
      const erased = await wallet.eraseOwner(owner, 'subj_0123456789abcdef0123456789abcdef');
      assert.equal(erased.walletsPseudonymised, 1);
      const pseudonymous = { tenantId: 'puabo', userId: 'subj_0123456789abcdef0123456789abcdef' };
      assert.equal(await wallet.balance(pseudonymous), 4_000);
      assert.deepEqual(
        (await wallet.listEntries(pseudonymous)).map((e) => [e.kind, e.amount, e.owner.userId]),
        [
          ['credit', 5_000, pseudonymous.userId],
          ['deduct', 1_000, pseudonymous.userId],
        ],
      );
      assert.deepEqual(await wallet.listEntries(owner), []);
      const raw = new Database(file, { readonly: true });
      try {
        assert.ok(
          !JSON.stringify(raw.prepare('SELECT * FROM ledger_subjects').all()).includes('alice-7f3e9'),
        );
      } finally {
        raw.close();
      }
      // The same id coming back later is a new subject with a new wallet.
      assert.equal(await wallet.balance(owner), 5_000);
      assert.equal((await wallet.audit()).unbalancedTransactions, 0);
    } finally {
      await wallet.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('shares a PostgreSQL schema with Canon Memory and refuses newer ledger versions', async () => {
    const schema = randomName('ledger_canon');
    const canon = await PostgresCanonStore.open(url(), { schema });
    const wallet = await LedgerWallet.openPostgres(url(), { schema });
    try {
      const sql = rawPostgres(url(), schema);
      const tables = (
        await sql('SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()')
      ).map((r) => r.table_name);
      for (const t of ['sessions', 'ledger_transactions']) assert.ok(tables.includes(t), t);
      const types = await sql(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'ledger_postings' AND column_name = 'amount'",
      );
      assert.deepEqual(types, [{ data_type: 'bigint' }]);
      await sql("INSERT INTO component_migrations VALUES ('ledger', 99, now())");
      await assert.rejects(
        LedgerWallet.openPostgres(url(), { schema }),
        /ledger tables are at schema version 99/,
      );
    } finally {
      await wallet.close();
      await canon.close();
      await rawPostgres(url(), 'public')(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});

describe('embedded ledger on PostgreSQL, a wallet already charged', () => {
  const ALICE = { tenantId: 'puabo', userId: 'alice' };
  let n = 0;
  const charge = (amount: number, key = `c-${++n}`) => deduction(ALICE, amount, key);

  it('charges it in one statement, with the same entry, shares, replay and refusal as the full transaction', async () => {
    const schema = randomName('ledger_fast');
    const db = await PostgresSqlDb.open(url(), { schema });
    // Counts what the ledger asks of the database.
    const asked = { transactions: 0, statements: 0 };
    const counted: SqlDb = {
      dialect: db.dialect,
      transaction: (work) => (asked.transactions++, db.transaction(work)),
      query: (text, params) => (asked.statements++, db.query(text, params)),
      close: () => db.close(),
    };
    const wallet = await LedgerWallet.on(counted);
    try {
      await wallet.credit(ALICE, 100_000, 'fund-1');
      await wallet.deduct(charge(1_000));
      Object.assign(asked, { transactions: 0, statements: 0 });

      const request = charge(10_001);
      const result = await wallet.deduct(request);
      assert.deepEqual(asked, { transactions: 0, statements: 1 });
      assert.equal(result.replayed, false);
      assert.equal(result.balanceAfter, 88_999);
      const listed = (await wallet.listEntries(ALICE)).at(-1);
      assert.deepEqual(listed, result.entry);
      assert.deepEqual(
        listed?.distribution.map((s) => s.shareId),
        ['platform', 'creators'],
        'shares in the order given',
      );

      const again = await wallet.deduct(request);
      assert.equal(again.replayed, true);
      assert.equal(again.entry.transactionId, result.entry.transactionId);
      assert.equal(await wallet.balance(ALICE), 88_999);

      const tooMuch = charge(88_999 + 1);
      await assert.rejects(wallet.deduct(tooMuch), InsufficientFundsError);
      assert.equal(await wallet.balance(ALICE), 88_999, 'nothing moved');
      await wallet.credit(ALICE, 1, 'fund-2');
      assert.equal((await wallet.deduct(tooMuch)).balanceAfter, 0, 'the refused key stays usable');

      const audit = await wallet.audit();
      assert.deepEqual(
        [audit.unbalancedTransactions, audit.walletBalanceMismatches, audit.postingsTotal],
        [0, 0, 0n],
      );
    } finally {
      await wallet.close();
      await rawPostgres(url(), 'public')(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});

describe('embedded ledger: many owners’ entries in one read, as listEntries gives each', () => {
  const ALICE = { tenantId: 'puabo', userId: 'alice' };
  const BOB = { tenantId: 'puabo', userId: 'bob' };
  const ALICE_ELSEWHERE = { tenantId: 'v-suite', userId: 'alice' };
  const NOBODY = { tenantId: 'puabo', userId: 'nobody' };
  let n = 0;
  const charge = (owner: WalletOwner, amount: number) => deduction(owner, amount, `many-${++n}`);

  async function sameAsOneByOne(wallet: LedgerWallet): Promise<void> {
    for (const owner of [ALICE, BOB, ALICE_ELSEWHERE])
      await wallet.credit(owner, 100_000, `fund-${owner.tenantId}-${owner.userId}`);
    await wallet.deduct(charge(ALICE, 1_000));
    await new Promise((r) => setTimeout(r, 5));
    const cut = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const late = await wallet.deduct(charge(ALICE, 2_000));
    await wallet.deduct(charge(BOB, 3_000));
    await wallet.deduct(charge(ALICE_ELSEWHERE, 4_000));
    await wallet.refund({
      transactionId: late.entry.transactionId,
      amount: 500,
      idempotencyKey: 'many-refund',
      reason: 'x',
    });
    const requests = [
      { owner: ALICE, from: cut },
      { owner: BOB },
      { owner: NOBODY },
      { owner: ALICE },
      { owner: ALICE_ELSEWHERE, from: '2020-01-01T00:00:00Z' },
    ];
    const many = await wallet.listEntriesOfOwners(requests);
    const oneByOne = await Promise.all(
      requests.map((r) => wallet.listEntries(r.owner, r.from ? { from: r.from } : {})),
    );
    assert.deepEqual(many, oneByOne);
    assert.deepEqual(
      many.map((list) => list.map((e) => `${e.kind}:${e.amount}:${e.distribution.length}`)),
      [
        ['deduct:2000:2', 'refund:500:2'],
        ['credit:100000:0', 'deduct:3000:2'],
        [],
        ['credit:100000:0', 'deduct:1000:2', 'deduct:2000:2', 'refund:500:2'],
        ['credit:100000:0', 'deduct:4000:2'],
      ],
    );
  }

  it('SQLite', () => withSqliteLedger(sameAsOneByOne));

  it('PostgreSQL', () => withPostgresLedger(sameAsOneByOne));
});

describe('embedded ledger: several deductions at once, each answered as deduct answers it', () => {
  const who = (userId: string) => ({ tenantId: 'puabo', userId });
  const [ANN, BOB, CAT, DAN] = ['ann', 'bob', 'cat', 'dan'].map(who) as [
    ReturnType<typeof who>,
    ReturnType<typeof who>,
    ReturnType<typeof who>,
    ReturnType<typeof who>,
  ];
  const charge = deduction;
  const outcome = (r: Awaited<ReturnType<LedgerWallet['deductMany']>>[number]): string =>
    r instanceof Error ? r.constructor.name : `${r.replayed ? 'replayed' : 'deducted'} ${r.balanceAfter}`;

  async function answersAsDeduct(wallet: LedgerWallet): Promise<void> {
    await wallet.credit(ANN, 10_000, 'fund-ann');
    await wallet.credit(BOB, 1_000, 'fund-bob');
    await wallet.credit(DAN, 5_000, 'fund-dan');
    // Each wallet charged once before, as metering's earlier cycles would have (PostgreSQL then knows it).
    for (const owner of [ANN, BOB, DAN]) await wallet.deduct(charge(owner, 1, `first-${owner.userId}`));
    const results = await wallet.deductMany([
      charge(ANN, 2_000, 'a1'),
      charge(BOB, 5_000, 'b1'),
      charge(ANN, 3_000, 'a2'),
      charge(CAT, 100, 'c1'),
      charge(DAN, 1_000, 'first-dan'),
      { ...charge(DAN, 10, 'd-bad'), distribution: [] },
      charge(DAN, 500, 'd1'),
      charge(ANN, 2_000, 'a1'),
    ]);
    assert.deepEqual(results.map(outcome), [
      'deducted 7999',
      'InsufficientFundsError',
      'deducted 4999',
      'InsufficientFundsError',
      'IdempotencyConflictError',
      'WalletRequestError',
      'deducted 4499',
      'replayed 4999',
    ]);
    const [a1, , a2] = results;
    assert.ok(!(a1 instanceof Error) && !(a2 instanceof Error));
    const listed = (await wallet.listEntries(ANN)).filter((e) => e.kind === 'deduct');
    assert.deepEqual(listed.slice(1), [a1?.entry, a2?.entry], 'recorded as answered, shares in order');
    assert.equal(await wallet.balance(BOB), 999, 'a refused deduction moved nothing');
    const audit = await wallet.audit();
    assert.equal(audit.unbalancedTransactions, 0);
    assert.equal(audit.walletBalanceMismatches, 0);
  }

  it('SQLite', () => withSqliteLedger(answersAsDeduct));

  it('PostgreSQL', () => withPostgresLedger(answersAsDeduct));

  it('PostgreSQL: known wallets’ deductions go in one round trip', () =>
    withPostgresLedger(
      async (wallet) => {
        for (const owner of [ANN, BOB, DAN]) {
          await wallet.credit(owner, 10_000, `fund-${owner.userId}`);
          await wallet.deduct(charge(owner, 1, `first-${owner.userId}`));
        }
        const { writes, result } = await socketWrites(() =>
          wallet.deductMany([charge(ANN, 100, 'x1'), charge(BOB, 200, 'x2'), charge(DAN, 300, 'x3')]),
        );
        assert.deepEqual(result.map(outcome), ['deducted 9899', 'deducted 9799', 'deducted 9699']);
        assert.equal(writes, 1);
      },
      { maxConnections: 1 },
    ));

  it('PostgreSQL: a charge the database refuses does not take the others of its round with it', () =>
    withPostgresLedger(async (wallet, schema) => {
      for (const owner of [ANN, BOB, DAN]) {
        await wallet.credit(owner, 10_000, `fund-${owner.userId}`);
        await wallet.deduct(charge(owner, 1, `first-${owner.userId}`));
      }
      // A rule of the database's own that this one charge breaks (as a constraint or a trigger would).
      await rawPostgres(
        url(),
        schema,
      )(`
        CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.amount = 13 THEN RAISE EXCEPTION 'thirteen is refused'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_13 BEFORE INSERT ON ledger_transactions
          FOR EACH ROW EXECUTE FUNCTION refuse_13();`);
      const result = await wallet.deductMany([
        charge(ANN, 100, 'y1'),
        charge(DAN, 13, 'y2'),
        charge(BOB, 200, 'y3'),
      ]);
      assert.deepEqual(result.map(outcome), ['deducted 9899', 'DatabaseError', 'deducted 9799']);
      assert.match(String(result[1]), /thirteen is refused/);
      assert.equal(await wallet.balance(DAN), 9_999, 'the refused charge moved nothing');
      const audit = await wallet.audit();
      assert.equal(audit.unbalancedTransactions, 0);
      assert.equal(audit.walletBalanceMismatches, 0);
    }));
});
