// Without autovacuum, or the statistics it runs on, nothing analyses Canon Memory's tables as they grow, and
// its prepared statements keep the plans they got on small tables: the orchestrator says so when it starts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresCanonStore } from '../../../backend-adapter/canon/postgres-canon-store.ts';
import { startTestAdapter } from '../../support/adapter-fixture.ts';
import { createTestDatabase, POSTGRES_ADMIN_URL, type TestDatabase } from './postgres-fixture.ts';

describe('PostgreSQL upkeep warnings (real PostgreSQL)', () => {
  let database: TestDatabase;
  let admin: pg.Client;
  let serverAutovacuum: string;

  before(async () => {
    database = await createTestDatabase();
    admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    serverAutovacuum =
      (await admin.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]?.autovacuum ?? '';
  });
  after(async () => {
    await admin.end();
    await database.drop();
  });

  it('warns exactly when the server runs without autovacuum', async () => {
    const store = await PostgresCanonStore.open(database.url);
    try {
      const warnings = await store.maintenanceWarnings();
      if (serverAutovacuum === 'on') assert.deepEqual(warnings, []);
      else {
        assert.equal(warnings.length, 1);
        assert.match(warnings[0] ?? '', /^PostgreSQL runs with autovacuum off: .* never analysed/);
      }
    } finally {
      await store.close();
    }
  });

  it('warns when the statistics autovacuum needs are not collected (track_counts off for the database)', async () => {
    await admin.query(`ALTER DATABASE ${database.name} SET track_counts = off`);
    const store = await PostgresCanonStore.open(database.url);
    try {
      const [warning, ...more] = await store.maintenanceWarnings();
      assert.deepEqual(more, []);
      assert.match(warning ?? '', /^PostgreSQL runs with (track_counts|autovacuum) off: /);
      if (serverAutovacuum === 'on') assert.match(warning ?? '', /track_counts off/);
    } finally {
      await store.close();
      await admin.query(`ALTER DATABASE ${database.name} RESET track_counts`);
    }
  });

  it('the orchestrator logs the warning when it starts on such a server', async () => {
    await admin.query(`ALTER DATABASE ${database.name} SET track_counts = off`);
    const t = await startTestAdapter({ CANON_DATABASE_URL: database.url, LOG_LEVEL: 'warn' });
    try {
      const logged = t.logs
        .map((line) => JSON.parse(line) as { level: string; message: string })
        .filter((entry) => /^PostgreSQL runs with .* off/.test(entry.message));
      assert.equal(logged.length, 1, JSON.stringify(t.logs));
      assert.equal(logged[0]?.level, 'warn');
    } finally {
      await t.close();
      await admin.query(`ALTER DATABASE ${database.name} RESET track_counts`);
    }
  });
});
