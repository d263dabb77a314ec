// What a user owes is read at every launch (the Genesis hold). It must cost the same for a user with years of
// sessions as for a new one: the read goes through the partial index of unsettled charges, never through the
// user's whole charge history (SQLite took that path until billing migration 3). Checked on the plan each
// database really chooses, with such a history in it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BillingStore } from '../../../backend-adapter/billing/billing-store.ts';
import { OWED_BY_OWNER } from '../../../backend-adapter/billing/holds.ts';
import { PostgresSqlDb, SqliteSqlDb, run, type SqlDb } from '../../../backend-adapter/sql/sql-db.ts';
import { randomName, useTestDatabase } from '../canon/postgres-fixture.ts';

const OWNER = { tenantId: 't1', userId: 'long-history' };

/** 3,000 charged periods of one session, two still unsettled, and someone else's unsettled charge. */
async function history(db: SqlDb): Promise<void> {
  const at = '2026-03-02T09:00:00.000Z';
  const charge = (session: string, userId: string, period: number, amount: number, status: string) => ({
    text: `INSERT INTO billing_charges (session_id, period, idempotency_key, tenant_id, user_id, tier, kind,
             amount, period_start, distribution, status, created_at)
           VALUES ($1, $2, $3, $4, $5, 'basic', 'active', $6, $7, '{}', $8, $7)`,
    params: [session, period, `${session}/${period}`, OWNER.tenantId, userId, amount, at, status],
  });
  await db.transaction(function* () {
    yield* run(
      `INSERT INTO billing_sessions (session_id, tenant_id, user_id, tier, active_rate, storage_rate, discount_bp,
         period_ms, active_price, paused_price, registered_at)
       VALUES ('s1', $1, $2, 'basic', 1, 1, 0, 60000, 5, 1, $3), ('s2', $1, 'someone-else', 'basic', 1, 1, 0, 60000, 5, 1, $3)`,
      [OWNER.tenantId, OWNER.userId, at],
    );
    for (let period = 0; period < 3000; period++) {
      yield charge('s1', OWNER.userId, period, 5, period >= 2998 ? 'pending' : 'charged');
    }
    yield charge('s2', 'someone-else', 0, 11, 'pending');
  });
}

describe('what a user owes, read at every launch', () => {
  it('SQLite: from the unsettled charges alone, however long the history', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vsc-owed-'));
    const db = new SqliteSqlDb(join(dir, 'canon.sqlite'));
    try {
      const store = await BillingStore.on(db);
      await history(db);
      await db.query('ANALYZE');
      assert.equal(await store.outstanding(OWNER), 10, 'the two unsettled periods, nobody else’s');
      const plan = await db.query(`EXPLAIN QUERY PLAN ${OWED_BY_OWNER}`, [OWNER.tenantId, OWNER.userId]);
      assert.match(
        plan.map((r) => String(r.detail)).join('\n'),
        /USING (COVERING )?INDEX billing_charges_owner_unsettled/,
      );
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('PostgreSQL', () => {
    const databaseUrl = useTestDatabase();

    it('PostgreSQL: from the unsettled charges alone, however long the history', async () => {
      const db = await PostgresSqlDb.open(databaseUrl(), { schema: randomName('owed') });
      try {
        const store = await BillingStore.on(db);
        await history(db);
        await db.query('ANALYZE billing_charges');
        assert.equal(await store.outstanding(OWNER), 10, 'the two unsettled periods, nobody else’s');
        const plan = await db.query(`EXPLAIN ${OWED_BY_OWNER}`, [OWNER.tenantId, OWNER.userId]);
        // PostgreSQL may also pick the older index of every owner's unsettled charges: a few rows either way.
        assert.match(
          plan.map((r) => String(r['QUERY PLAN'])).join('\n'),
          /(Index (Only )?Scan using|Bitmap Index Scan on) billing_charges_(owner_)?unsettled/,
        );
      } finally {
        await db.close();
      }
    });
  });
});
