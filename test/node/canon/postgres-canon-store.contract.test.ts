import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { PostgresCanonStore } from '../../../backend-adapter/canon/postgres-canon-store.ts';
import type { SessionState } from '../../../protocol/session.ts';
import {
  POSTGRES_MIGRATIONS,
  applyPostgresMigrations,
} from '../../../backend-adapter/canon/postgres-migrations.ts';
import { describeCanonStoreContract, limits, sessionRow } from './canon-store-contract.ts';
import { randomName, rawPostgres, useTestDatabase } from './postgres-fixture.ts';
import { socketWrites } from '../sql/socket-writes.ts';

const url = useTestDatabase();

/** Every fixture gets a schema of its own in the file's database; cleanup drops it. */
async function dropSchema(schema: string): Promise<void> {
  await rawPostgres(url(), 'public')(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/**
 * The session's Genesis records name u1 through a live subject link: one actor, never the erased `pseudonym`
 * (a launch racing or following an erasure of u1).
 */
async function recordedUnderLiveLink(
  store: PostgresCanonStore,
  schema: string,
  sessionId: string,
  pseudonym: string,
  message: string,
): Promise<void> {
  assert.deepEqual(
    (await store.listRecords(sessionId)).map((r) => [r.action, r.actor]),
    [
      ['genesis.requested', 'u1'],
      ['genesis.provisioning', 'u1'],
    ],
    message,
  );
  const actors = await rawPostgres(
    url(),
    schema,
  )(`SELECT DISTINCT actor FROM canon_records WHERE entity_id = '${sessionId}'`);
  assert.equal(actors.length, 1);
  assert.notEqual(actors[0]?.actor, pseudonym, 'never under the erased pseudonym');
}

describeCanonStoreContract(
  'PostgreSQL',
  async () => {
    const schema = randomName('canon');
    const store = await PostgresCanonStore.open(url(), { schema });
    return {
      store,
      reopen: () => PostgresCanonStore.open(url(), { schema }),
      sql: rawPostgres(url(), schema),
      async cleanup() {
        await store.close().catch(() => undefined);
        await dropSchema(schema);
      },
    };
  },
  async () => {
    const schema = randomName('canon_v1');
    const pool = new pg.Pool({ connectionString: url(), options: `-c search_path=${schema}` });
    const client = await pool.connect();
    try {
      await applyPostgresMigrations(
        client,
        schema,
        POSTGRES_MIGRATIONS.filter((m) => m.version === 1),
      );
    } finally {
      client.release();
      await pool.end();
    }
    return {
      sql: rawPostgres(url(), schema),
      open: () => PostgresCanonStore.open(url(), { schema }),
      cleanup: () => dropSchema(schema),
    };
  },
);

describe('PostgreSQL Canon Memory, beyond the contract', () => {
  it('migrates once when several replicas open an empty database at the same moment', async () => {
    const schema = randomName('canon_race');
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresCanonStore.open(url(), { schema })),
    );
    try {
      const rows = await rawPostgres(url(), schema)('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(
        rows.map((r) => r.version),
        POSTGRES_MIGRATIONS.map((m) => m.version),
      );
      const newest = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
      for (const s of stores) assert.equal(await s.schemaVersion(), newest);
    } finally {
      for (const s of stores) await s.close();
      await dropSchema(schema);
    }
  });

  it('gives up a scan whose connection dies between pages, and the next scan reads every session', async () => {
    const schema = randomName('canon_scan');
    const store = await PostgresCanonStore.open(url(), { schema });
    const sql = rawPostgres(url(), schema);
    const killer = new pg.Client({ connectionString: url() });
    await killer.connect();
    try {
      // Twenty pages of the scan, written directly: 10,000 Geneses one by one would take minutes.
      await sql(`INSERT INTO sessions (session_id, user_id, tenant_id, tier, resources, state, created_at,
                   canon_timestamp, last_activity_at, handshake)
                 SELECT 's' || lpad(i::text, 5, '0'), 'u1', 't1', 'basic', '{}', 'active',
                   now() - i * interval '1 ms', now(), now(), '55-45-17'
                 FROM generate_series(1, 10000) AS i`);
      let failed: unknown;
      // A scan is over in a blink: try until the connection is cut while one is between its pages (a later
      // page's query is the one with the keyset condition).
      for (let attempt = 0; attempt < 50 && failed === undefined; attempt++) {
        const scan = store.listUnfinished().then(
          () => undefined,
          (error: unknown) => error ?? new Error('rejected without a reason'),
        );
        let cut = false;
        while (!cut) {
          const r = await killer.query<{ cut: boolean }>(
            `SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND query LIKE '%cursor_at%created_at >=%' AND query NOT LIKE '%pg_stat_activity%'`,
          );
          cut = r.rows.some((row) => row.cut);
          const settled = await Promise.race([scan.then(() => true), Promise.resolve(false)]);
          if (settled) break;
        }
        failed = await scan;
      }
      assert.ok(failed instanceof Error, 'a scan was cut between its pages');
      // The dead connection is not handed out again: the next scans read all 10,000, more than once.
      for (let i = 0; i < 3; i++) assert.equal((await store.listUnfinished()).length, 10_000);
      assert.ok(await store.ping());
    } finally {
      await killer.end();
      await store.close();
      await dropSchema(schema);
    }
  });

  it('records a launch queued on the Genesis lock behind an erasure of its user under a new pseudonym', async () => {
    const schema = randomName('canon_erased');
    const launching = await PostgresCanonStore.open(url(), { schema });
    const erasing = await PostgresCanonStore.open(url(), { schema });
    const holder = new pg.Client({ connectionString: url() });
    await holder.connect();
    const owner = { tenantId: 't1', userId: 'u1' };
    const row = (sessionId: string, state: SessionState) => sessionRow(sessionId, owner, 0, state);
    const waiters = async () =>
      Number(
        (
          await holder.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          )
        ).rows[0]?.n,
      );
    const until = async (n: number) => {
      for (let i = 0; (await waiters()) < n; i++) {
        if (i > 500) assert.fail(`${n} waiters on the Genesis lock never showed`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      // u1 has a subject (an earlier, finished session) and nothing live, so may be erased.
      await launching.createSession(row('before', 'terminated'), 'u1');
      const before = await rawPostgres(
        url(),
        schema,
      )("SELECT subject_ref FROM subjects WHERE user_id = 'u1'");
      // Someone holds the Genesis lock; the erasure queues on it first, then the quota-checked launch.
      await holder.query("SELECT pg_advisory_lock(hashtext('v-supercore:canon:genesis:' || $1))", [schema]);
      const erased = erasing.eraseSubject({ subject: owner, actor: 'admin', at: new Date(), details: {} });
      await until(1);
      const launched = launching.createSession(
        row('after', 'provisioning'),
        'u1',
        limits({ maxLiveSessionsPerUser: 5 }),
      );
      await until(2);
      await holder.query("SELECT pg_advisory_unlock(hashtext('v-supercore:canon:genesis:' || $1))", [schema]);
      // Had the launch gone first, the erasure would have found a live session and refused.
      const { pseudonym } = await erased;
      await launched;
      assert.equal(before[0]?.subject_ref, pseudonym, 'the subject the launch had found was the one erased');
      await recordedUnderLiveLink(launching, schema, 'after', pseudonym, 'recorded under a live link to u1');
      assert.equal((await launching.liveUsageOf(owner)).user.sessions, 1, 'its allocation was opened');
    } finally {
      await holder.end();
      await erasing.close();
      await launching.close();
      await dropSchema(schema);
    }
  });

  it('sends no subject insert for a user it launched before, and one erased elsewhere meanwhile still launches', async () => {
    const schema = randomName('canon_known');
    const launching = await PostgresCanonStore.open(url(), { schema });
    const erasing = await PostgresCanonStore.open(url(), { schema });
    const owner = { tenantId: 't1', userId: 'u1' };
    const roomy = limits({ maxLiveSessionsPerUser: 5 });
    const statementsOf = async (launch: () => Promise<void>): Promise<number> => {
      const before = launching.connections().statements ?? NaN;
      await launch();
      return (launching.connections().statements ?? NaN) - before;
    };
    try {
      const create = (id: string) =>
        launching.createSession(sessionRow(id, owner, 0, 'provisioning'), 'u1', roomy);
      // BEGIN, the subject's insert, the Genesis lock, the checked insert, COMMIT.
      assert.equal(await statementsOf(() => create('first')), 5);
      assert.equal(await statementsOf(() => create('second')), 4, 'the subject is known: no insert');
      for (const id of ['first', 'second']) {
        const ended = await launching.transition({
          sessionId: id,
          from: ['provisioning'],
          to: 'terminated',
          action: 'termination.completed',
          actor: 'u1',
          at: new Date(),
        });
        assert.ok(ended);
      }
      // Another replica erases u1: the subject this one knew no longer names anyone.
      const { pseudonym } = await erasing.eraseSubject({
        subject: owner,
        actor: 'admin',
        at: new Date(),
        details: {},
      });
      await create('third');
      await recordedUnderLiveLink(launching, schema, 'third', pseudonym, 'recorded under a new link to u1');
      assert.equal((await launching.liveUsageOf(owner)).user.sessions, 1);
      // Known again under the new subject: the next launch sends no insert either.
      assert.equal(await statementsOf(() => create('fourth')), 4);
    } finally {
      await erasing.close();
      await launching.close();
      await dropSchema(schema);
    }
  });

  it('makes a quota-checked Genesis in one round trip, or refuses it in one, writing no session', async () => {
    const schema = randomName('canon_genesis');
    const store = await PostgresCanonStore.open(url(), { schema });
    const owner = { tenantId: 't1', userId: 'u1' };
    const oneEach = limits({ maxLiveSessionsPerUser: 1 });
    try {
      // The first use of a connection opens it; measure on one already open.
      await store.ping();
      const first = await socketWrites(() =>
        store.createSession(sessionRow('one', owner, 0, 'provisioning'), 'u1', oneEach),
      );
      assert.equal(first.writes, 1, 'subject, lock, sums with the inserts, and COMMIT in one write');
      const second = await socketWrites(() =>
        store.createSession(sessionRow('two', owner, 0, 'provisioning'), 'u1', oneEach).then(
          () => assert.fail('a second live session passed a limit of one'),
          (error: unknown) => error,
        ),
      );
      assert.equal(second.writes, 1);
      assert.match(String(second.result), /quota user-sessions reached \(1 of 1\)/);
      assert.equal(await store.getSession('two'), undefined);
      assert.deepEqual(await store.listRecords('two'), []);
      assert.equal((await store.liveUsageOf(owner)).user.sessions, 1);
      const locks = await rawPostgres(
        url(),
        schema,
      )("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'");
      assert.equal(locks[0]?.n, 0, 'the Genesis lock is free once the answer is in');
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  it('refuses TRUNCATE of the records, and values of the wrong type', async () => {
    const schema = randomName('canon');
    const store = await PostgresCanonStore.open(url(), { schema });
    const sql = rawPostgres(url(), schema);
    try {
      await assert.rejects(sql('TRUNCATE canon_records'), /append-only/);
      await assert.rejects(
        sql(
          "INSERT INTO canon_records (record_id, entity, entity_id, action, actor, tenant_id, payload, canon_timestamp, handshake) VALUES (gen_random_uuid(), 'wallet', 'x', 'a', 'u', 't', '{}', now(), '55-45-17')",
        ),
        /canon_records_entity/,
      );
      const types = await sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'usage' AND column_name = 'cost'",
      );
      assert.deepEqual(types, [{ column_name: 'cost', data_type: 'bigint' }]);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  it('reports the database unreachable through ping, not by throwing', async () => {
    const schema = randomName('canon');
    const store = await PostgresCanonStore.open(url(), { schema });
    try {
      assert.equal(await store.ping(), true);
      await rawPostgres(
        url(),
        'public',
      )(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      // The pool discards the killed connections and opens new ones.
      assert.equal(await store.ping(), true);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  it('refuses to open a database written by newer code', async () => {
    const schema = randomName('canon');
    const store = await PostgresCanonStore.open(url(), { schema });
    await store.close();
    try {
      await rawPostgres(url(), schema)('INSERT INTO schema_migrations (version) VALUES (99)');
      await assert.rejects(
        PostgresCanonStore.open(url(), { schema }),
        new RegExp(
          `schema version 99, newer than this code \\(${Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version))}\\)`,
        ),
      );
    } finally {
      await dropSchema(schema);
    }
  });

  it('never edits a released migration (version 1 is frozen)', () => {
    const v1 = POSTGRES_MIGRATIONS.find((m) => m.version === 1)?.sql ?? '';
    assert.equal(createHash('sha256').update(v1).digest('hex').slice(0, 16), 'ec53892bd3fcdff4');
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await assert.rejects(
      PostgresCanonStore.open(url(), { schema: 'x"; DROP TABLE y; --' }),
      /plain identifier/,
    );
  });
});
