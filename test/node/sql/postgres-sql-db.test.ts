// The PostgreSQL side of the SQL seam on a real server: transactions whose BEGIN is pipelined with their
// first statement, and whose unread writes are pipelined with what follows them, are still all-or-nothing;
// hot statements are prepared once per connection, and queries asked for in one tick leave in one socket write.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PreparingClient } from '../../../backend-adapter/sql/postgres-prepared-client.ts';
import { pipelinedTransaction } from '../../../backend-adapter/sql/pipelined-transaction.ts';
import { last, PostgresSqlDb, q, run, write } from '../../../backend-adapter/sql/sql-db.ts';
import { createTestDatabase, type TestDatabase } from '../canon/postgres-fixture.ts';
import { socketWrites } from './socket-writes.ts';

describe('PostgresSqlDb (real PostgreSQL)', () => {
  let database: TestDatabase;
  let db: PostgresSqlDb;

  before(async () => {
    database = await createTestDatabase();
    // One connection: every transaction below reuses the one the last one left behind.
    db = await PostgresSqlDb.open(database.url, { schema: 'seam', maxConnections: 1 });
    await db.query('CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))');
  });
  after(async () => {
    await db.close();
    await database.drop();
  });

  const ids = async (): Promise<string[]> =>
    (await db.query('SELECT id FROM items ORDER BY id')).map((r) => String(r.id));

  it('commits a transaction’s statements together', async () => {
    const inserted = await db.transaction(function* () {
      let n = yield* run('INSERT INTO items (id, n) VALUES ($1, $2)', ['a', 1]);
      n += yield* run('INSERT INTO items (id, n) VALUES ($1, $2)', ['b', 2]);
      return n;
    });
    assert.equal(inserted, 2);
    assert.deepEqual(await ids(), ['a', 'b']);
  });

  it('rolls back the first statement when a later one fails: it ran inside the transaction', async () => {
    await assert.rejects(
      db.transaction(function* () {
        yield* run('INSERT INTO items (id, n) VALUES ($1, $2)', ['c', 3]);
        yield* run('INSERT INTO items (id, n) VALUES ($1, $2)', ['d', -1]);
      }),
      /check constraint/,
    );
    assert.deepEqual(await ids(), ['a', 'b']);
  });

  it('refuses a failing first statement alone, and the connection serves the next transaction', async () => {
    await assert.rejects(
      db.transaction(function* () {
        yield* run('INSERT INTO items (id, n) VALUES ($1, $2)', ['a', 9]);
      }),
      /duplicate key/,
    );
    const rows = await db.transaction(function* () {
      yield* run('UPDATE items SET n = n + 10 WHERE id = $1', ['a']);
      return yield* q('SELECT n FROM items WHERE id = $1', ['a']);
    });
    assert.deepEqual(rows, [{ n: 11 }]);
  });

  it('survives its connection dying inside a transaction: refused, nothing written, the next one served', async () => {
    await assert.rejects(
      db.transaction(function* () {
        yield* run('INSERT INTO items (id, n) VALUES ($1, $2)', ['lost', 1]);
        // The server ends this very connection, as a restart or an administrator would.
        yield* q('SELECT pg_terminate_backend(pg_backend_pid())');
      }),
      /terminating connection|Connection terminated|ECONNRESET/,
    );
    assert.ok(!(await ids()).includes('lost'), 'the dead transaction wrote nothing');
    const n = await db.transaction(function* () {
      return yield* run('INSERT INTO items (id, n) VALUES ($1, $2)', ['after', 1]);
    });
    assert.equal(n, 1);
    await db.query('DELETE FROM items WHERE id = $1', ['after']);
  });

  it('sends a transaction of unread writes, with its BEGIN and COMMIT, in one write, and commits them all', async () => {
    const { writes } = await socketWrites(() =>
      db.transaction(function* () {
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['w1', 1]);
        yield* write('UPDATE items SET n = n + 1 WHERE id = $1', ['w1']);
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['w2', 2]);
      }),
    );
    assert.equal(writes, 1, 'BEGIN, three writes and COMMIT in one round trip');
    assert.deepEqual(await db.query("SELECT id, n FROM items WHERE id LIKE 'w%' ORDER BY id"), [
      { id: 'w1', n: 2 },
      { id: 'w2', n: 2 },
    ]);
    // A read waits for its answer: the writes before it go with it, those after it with the COMMIT.
    const read = await socketWrites(() =>
      db.transaction(function* () {
        yield* write('UPDATE items SET n = n + 1 WHERE id = $1', ['w1']);
        const [row] = yield* q('SELECT n FROM items WHERE id = $1', ['w1']);
        yield* write('UPDATE items SET n = n + 1 WHERE id = $1', ['w2']);
        return row;
      }),
    );
    assert.equal(read.writes, 2);
    assert.deepEqual(read.result, { n: 3 }, 'the read saw the write sent before it');
    await db.query("DELETE FROM items WHERE id LIKE 'w%'");
  });

  it('refuses a transaction whose unread write fails, with that write’s own error, and keeps nothing of it', async () => {
    await assert.rejects(
      db.transaction(function* () {
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['x1', 1]);
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['a', 5]);
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['x2', 1]);
      }),
      /duplicate key/,
    );
    // A read behind the failed write learns the cause, not "current transaction is aborted".
    await assert.rejects(
      db.transaction(function* () {
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['x3', -1]);
        yield* q('SELECT n FROM items WHERE id = $1', ['a']);
      }),
      /check constraint/,
    );
    // The body giving up after its writes were sent rolls them back too.
    await assert.rejects(
      db.transaction(function* () {
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['x4', 1]);
        throw new Error('changed its mind');
      }),
      /changed its mind/,
    );
    assert.deepEqual(await ids(), ['a', 'b']);
    assert.deepEqual(await db.query('SELECT n FROM items WHERE id = $1', ['a']), [{ n: 11 }]);
  });

  it('sends a last() statement with the COMMIT and hands the body its rows once committed', async () => {
    const { writes, result } = await socketWrites(() =>
      db.transaction(function* () {
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['l1', 4]);
        const rows = yield* last('UPDATE items SET n = n * 2 WHERE id = $1 RETURNING n', ['l1']);
        return rows[0];
      }),
    );
    assert.equal(writes, 1, 'BEGIN, the write, the last statement and COMMIT in one round trip');
    assert.deepEqual(result, { n: 8 });
    assert.deepEqual(await db.query('SELECT n FROM items WHERE id = $1', ['l1']), [{ n: 8 }]);
    // Refused: its own error, and nothing of the transaction kept.
    await assert.rejects(
      db.transaction(function* () {
        yield* write('INSERT INTO items (id, n) VALUES ($1, $2)', ['l2', 1]);
        return yield* last('UPDATE items SET n = -1 WHERE id = $1 RETURNING n', ['l1']);
      }),
      /check constraint/,
    );
    assert.deepEqual(await db.query("SELECT id, n FROM items WHERE id LIKE 'l%'"), [{ id: 'l1', n: 8 }]);
    // Nothing may follow it: the COMMIT has left.
    await assert.rejects(
      db.transaction(function* () {
        yield* last('SELECT n FROM items WHERE id = $1', ['l1']);
        yield* q('SELECT 1 AS one', []);
      }),
      /after its last\(\) statement/,
    );
    await db.query("DELETE FROM items WHERE id LIKE 'l%'");
  });

  it('prepares a parameterised statement once per connection and reuses it', async () => {
    const statement = 'SELECT n FROM items WHERE id = $1';
    for (const id of ['a', 'b', 'a']) await db.query(statement, [id]);
    const prepared = await db.query(
      'SELECT name, statement FROM pg_prepared_statements WHERE statement = $1',
      [statement],
    );
    assert.equal(prepared.length, 1, 'one prepared statement for three runs');
    assert.match(String(prepared[0]?.name), /^vsc_\d+$/);
  });

  it('sends the queries asked for in one tick in one socket write, each answered as its own', async () => {
    const preparing = new PreparingClient({ connectionString: database.url, pipeline: true });
    // Typed as node-postgres's own client: the subclass forwards every overload of query().
    const client: pg.Client = preparing;
    await client.connect();
    try {
      // Every chunk the socket hands to the kernel, whether alone or as one writev of several.
      const socket = client.connection.stream as unknown as {
        _write: (...a: unknown[]) => unknown;
        _writev: (...a: unknown[]) => unknown;
      };
      let writes = 0;
      for (const method of ['_write', '_writev'] as const) {
        const original = socket[method].bind(socket);
        socket[method] = (...a: unknown[]) => {
          writes++;
          return original(...a);
        };
      }
      const together = await Promise.allSettled([
        client.query('BEGIN'),
        client.query('SELECT $1::int AS n', [1]),
        client.query('SELECT $1::int / 0 AS n', [2]),
        client.query('ROLLBACK'),
      ]);
      assert.equal(writes, 1, 'four queries, one write');
      assert.deepEqual(
        together.map((r) => (r.status === 'fulfilled' ? (r.value.rows[0] ?? 'done') : 'refused')),
        ['done', { n: 1 }, 'refused', 'done'],
      );
      writes = 0;
      for (const n of [3, 4])
        assert.deepEqual((await client.query('SELECT $1::int AS n', [n])).rows, [{ n }]);
      assert.equal(writes, 2, 'a query awaited before the next is sent at once');
    } finally {
      await client.end();
    }
  });

  it('refuses a pipelined transaction whose connection dies mid-way, keeps nothing, and serves the next', async () => {
    const pool = new pg.Pool({
      connectionString: database.url,
      options: '-c search_path=seam',
      max: 1,
      Client: PreparingClient,
      pipeline: true,
    });
    pool.on('error', () => undefined);
    try {
      await assert.rejects(
        pipelinedTransaction(pool, [
          { text: 'INSERT INTO items (id, n) VALUES ($1, $2)', values: ['p1', 1] },
          // The server ends this very connection, as a restart or an administrator would.
          { text: 'SELECT pg_terminate_backend(pg_backend_pid())' },
          { text: 'INSERT INTO items (id, n) VALUES ($1, $2)', values: ['p2', 1] },
        ]),
        /terminating connection|Connection terminated|ECONNRESET/,
      );
      assert.deepEqual(await ids(), ['a', 'b'], 'nothing of it was kept');
      const [inserted] = await pipelinedTransaction(pool, [
        { text: 'INSERT INTO items (id, n) VALUES ($1, $2) RETURNING id', values: ['p3', 1] },
      ]);
      assert.deepEqual(inserted?.rows, [{ id: 'p3' }], 'the pool opened a new connection for the next');
      await db.query('DELETE FROM items WHERE id = $1', ['p3']);
    } finally {
      await pool.end();
    }
  });

  it('keeps a bounded number of prepared statements when texts keep changing, and still answers', async () => {
    for (let k = 0; k < 2100; k++) {
      const [row] = await db.query(`SELECT $1::int + ${k} AS n`, [1]);
      assert.equal(row?.n, k + 1);
    }
    const [count] = await db.query(
      'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE $1',
      ['vsc_%'],
    );
    assert.ok(Number(count?.n) <= 2000, `${String(count?.n)} statements prepared on one connection`);
    assert.ok(Number(count?.n) > 1000, 'the earlier ones were prepared');
  });
});
