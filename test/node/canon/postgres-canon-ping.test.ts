// Canon Memory's readiness probe on a real PostgreSQL: a statement answered a moment ago stands in for a
// `SELECT 1` (every transition probes, so under load the probe would be a round trip per transition), and a
// connection lost since makes the probe ask the server again, so an unreachable server is still reported.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresCanonStore } from '../../../backend-adapter/canon/postgres-canon-store.ts';
import { createTestDatabase, POSTGRES_ADMIN_URL, type TestDatabase } from './postgres-fixture.ts';

describe('PostgresCanonStore ping (real PostgreSQL)', () => {
  let database: TestDatabase;
  let store: PostgresCanonStore;
  let admin: pg.Client;

  before(async () => {
    database = await createTestDatabase();
    store = await PostgresCanonStore.open(database.url);
    admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
  });
  after(async () => {
    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
    await admin.end();
    await store.close();
    await database.drop();
  });

  /** The last statement each of the store's connections sent, as the server saw it. */
  const lastStatements = async (): Promise<string[]> =>
    (
      await admin.query<{ query: string }>(
        'SELECT query FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database.name],
      )
    ).rows.map((r) => r.query);

  it('takes a statement answered within the last second as the answer, and asks the server after that', async () => {
    assert.equal(await store.getSession('no-such-session'), undefined);
    assert.equal(await store.ping(), true);
    assert.ok(!(await lastStatements()).includes('SELECT 1 AS ok'), 'no probe sent');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await store.ping(), true);
    assert.ok((await lastStatements()).includes('SELECT 1 AS ok'), 'the probe went to the server');
  });

  it('reports an unreachable server at once after its connections were lost, then recovers', async () => {
    assert.equal(await store.getSession('no-such-session'), undefined);
    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [
      database.name,
    ]);
    // The terminated connections' sockets close a moment after the server ends them.
    for (let i = 0; i < 50 && (await lastStatements()).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await store.ping(), false);
    await admin.query(`ALTER DATABASE ${database.name} ALLOW_CONNECTIONS true`);
    assert.equal(await store.ping(), true);
  });
});
