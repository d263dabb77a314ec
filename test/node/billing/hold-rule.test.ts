// The hold rule decides whether a launch (or resume, or tier change) may spend the owner's balance. It is
// written twice (holds.ts): in JavaScript for SQLite and as one statement for PostgreSQL. The same cases, with
// the same expected answers, run on both, so the two cannot drift apart unseen.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BillingStore } from '../../../backend-adapter/billing/billing-store.ts';
import type { HoldRequest } from '../../../backend-adapter/billing/holds.ts';
import { PostgresSqlDb, SqliteSqlDb, run, type SqlDb } from '../../../backend-adapter/sql/sql-db.ts';
import { openSqliteConnection } from '../../../backend-adapter/sql/sqlite-connection.ts';
import { randomName, useTestDatabase } from '../canon/postgres-fixture.ts';
import { socketWrites } from '../sql/socket-writes.ts';

const OWNER = { tenantId: 't1', userId: 'ada' };
const T0 = new Date('2026-05-04T12:00:00.000Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);
const TERMS = {
  tier: 'basic',
  activeMicroPerHour: 500_000,
  storageMicroPerHour: 10_000,
  discountBasisPoints: 0,
  periodMs: 60_000,
};

/** A hold request at T0 whose stale bound is ten minutes back; `live` and `running` as the case needs. */
function request(
  sessionId: string,
  balance: number,
  amount: number,
  more: Partial<Pick<HoldRequest, 'live' | 'running' | 'at' | 'register'>> = {},
): HoldRequest {
  return {
    sessionId,
    owner: OWNER,
    balance,
    amount,
    running: more.running ?? new Map(),
    live: more.live ?? new Set([sessionId]),
    staleBefore: minutes(-10),
    at: more.at ?? T0,
    ...(more.register ? { register: more.register } : {}),
  };
}

/** An unsettled charge of `amount` for the owner (what they owe), on a session of their own. */
async function owe(db: SqlDb, amount: number): Promise<void> {
  const at = T0.toISOString();
  await db.transaction(function* () {
    yield* run(
      `INSERT INTO billing_sessions (session_id, tenant_id, user_id, tier, active_rate, storage_rate, discount_bp,
         period_ms, active_price, paused_price, registered_at)
       VALUES ('owing', $1, $2, 'basic', 1, 1, 0, 60000, 5, 1, $3)`,
      [OWNER.tenantId, OWNER.userId, at],
    );
    yield* run(
      `INSERT INTO billing_charges (session_id, period, idempotency_key, tenant_id, user_id, tier, kind, amount,
         period_start, distribution, status, created_at)
       VALUES ('owing', 0, 'owing/0', $1, $2, 'basic', 'active', $3, $4, '{}', 'pending', $4)`,
      [OWNER.tenantId, OWNER.userId, amount, at],
    );
  });
}

async function holdIds(store: BillingStore): Promise<string[]> {
  return (await store.openHolds(OWNER)).map((h) => `${h.sessionId}=${h.amount}`);
}

async function rule(db: SqlDb): Promise<void> {
  const store = await BillingStore.on(db);
  // Exactly covered is enough; one short is not, and a refusal takes nothing. (a is taken long ago.)
  assert.deepEqual(await store.hold(request('a', 30, 30, { at: minutes(-30) })), {
    ok: true,
    balance: 30,
    outstanding: 0,
    held: 0,
    required: 30,
  });
  assert.deepEqual(await store.hold(request('b', 69, 40, { live: new Set(['a', 'b']) })), {
    ok: false,
    balance: 69,
    outstanding: 0,
    held: 30,
    required: 70,
  });
  assert.deepEqual(await holdIds(store), ['a=30']);

  // A running session with a hold counts by its hold only; one without, by what it needs; its own entry never.
  const running = new Map([
    ['a', 999],
    ['x', 20],
    ['b', 500],
  ]);
  assert.deepEqual(await store.hold(request('b', 90, 40, { live: new Set(['a', 'b', 'x']), running })), {
    ok: true,
    balance: 90,
    outstanding: 0,
    held: 30,
    required: 90,
  });

  // What the owner owes comes off the balance; a session's own earlier hold is replaced, not counted.
  await owe(db, 100);
  const again = request('b', 179, 50, { live: new Set(['a', 'b']) });
  assert.deepEqual(await store.hold(again), {
    ok: false,
    balance: 179,
    outstanding: 100,
    held: 30,
    required: 80,
  });
  assert.deepEqual(await holdIds(store), ['a=30', 'b=40'], 'the refused request left b’s hold as it was');
  assert.equal((await store.hold({ ...again, balance: 180 })).ok, true);
  assert.deepEqual(await holdIds(store), ['a=30', 'b=50']);

  // A hold whose session is not live counts while it is young (a launch not yet written to Canon Memory)…
  assert.deepEqual(await store.hold(request('c', 1000, 10, { live: new Set(['a', 'c']), at: minutes(-9) })), {
    ok: true,
    balance: 1000,
    outstanding: 100,
    held: 80,
    required: 90,
  });
  // …and is released once stale, even by a request that is itself refused. A live one stays, however old.
  assert.deepEqual(await store.hold(request('d', 100, 10, { live: new Set(['b', 'd']) })), {
    ok: false,
    balance: 100,
    outstanding: 100,
    held: 50 + 10,
    required: 70,
  });
  assert.deepEqual(await holdIds(store), ['b=50', 'c=10'], 'a, not live and taken long ago, was released');

  // The registration is written with the hold, and only when the hold is taken.
  const register = { terms: TERMS, prices: { active: 8_334, paused: 167 }, at: T0 };
  assert.equal((await store.hold(request('e', 0, 10, { register, live: new Set(['e']) }))).ok, false);
  assert.equal(await store.get('e'), undefined, 'no billing row for a refused launch');
  assert.equal((await store.hold(request('e', 1000, 10, { register, live: new Set(['e']) }))).ok, true);
  const row = await store.get('e');
  assert.deepEqual(row && { tier: row.terms.tier, prices: row.prices, registeredAt: row.registeredAt }, {
    tier: 'basic',
    prices: { active: 8_334, paused: 167 },
    registeredAt: T0.toISOString(),
  });
}

describe('the hold rule, on both stores', () => {
  it('SQLite: counts holds, running sessions and debts; releases stale holds; takes only what is covered', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vsc-hold-'));
    const db = new SqliteSqlDb(join(dir, 'canon.sqlite'));
    try {
      await rule(db);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('SQLite: a hold is answered once committed, without waiting for the WAL to be flushed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vsc-hold-'));
    const file = join(dir, 'canon.sqlite');
    let holding = false;
    const held: Array<() => void> = [];
    // The first opener sets how the file's shared connection flushes: at once, until `holding`.
    const connection = openSqliteConnection(file, {
      walFlush: () => ({
        sync: () => (holding ? new Promise<void>((done) => held.push(done)) : Promise.resolve()),
        close: () => undefined,
      }),
    });
    const db = new SqliteSqlDb(file);
    try {
      const store = await BillingStore.on(db);
      holding = true;
      assert.equal((await store.hold(request('a', 30, 30))).ok, true, 'answered with no flush finished');
      assert.deepEqual(await holdIds(store), ['a=30']);
      // A durable write after it (the Genesis that follows a hold) waits for a flush, which covers both.
      let flushed = false;
      const genesis = connection.commits.run(() => 1).then(() => (flushed = true));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(flushed, false);
      holding = false;
      for (const done of held) done();
      await genesis;
    } finally {
      await db.close();
      await connection.release();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('PostgreSQL', () => {
    const databaseUrl = useTestDatabase();

    it('PostgreSQL: the same answers, from one statement', async () => {
      const db = await PostgresSqlDb.open(databaseUrl(), { schema: randomName('hold') });
      try {
        await rule(db);
      } finally {
        await db.close();
      }
    });

    it('PostgreSQL: a hold, taken or refused, is one round trip', async () => {
      const db = await PostgresSqlDb.open(databaseUrl(), { schema: randomName('hold'), maxConnections: 1 });
      try {
        const store = await BillingStore.on(db);
        await store.hold(request('warm', 10, 10));
        const register = { terms: TERMS, prices: { active: 8_334, paused: 167 }, at: T0 };
        const taken = await socketWrites(() => store.hold(request('f', 100, 10, { register })));
        assert.equal(taken.result.ok, true);
        assert.equal(taken.writes, 1);
        const refused = await socketWrites(() => store.hold(request('g', 5, 10, { register })));
        assert.equal(refused.result.ok, false);
        assert.equal(refused.writes, 1);
      } finally {
        await db.close();
      }
    });
  });
});
