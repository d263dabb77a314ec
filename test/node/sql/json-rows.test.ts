// Rows passed as one JSON parameter read back the same on SQLite and on a real PostgreSQL: text of any
// content (it is data, never SQL), integers up to 2^53 - 1, times and nested JSON.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jsonRows } from '../../../backend-adapter/sql/json-rows.ts';
import {
  int,
  iso,
  json,
  PostgresSqlDb,
  SqliteSqlDb,
  text,
  type SqlDb,
} from '../../../backend-adapter/sql/sql-db.ts';
import { createTestDatabase, type TestDatabase } from '../canon/postgres-fixture.ts';

const ROWS = [
  {
    name: "it's'); DROP TABLE t; --",
    n: 1,
    big: Number.MAX_SAFE_INTEGER,
    at: '2026-11-27T10:00:00.000Z',
    doc: { a: [1, 'b'] },
  },
  { name: 'Ünïcødé ✓ \\ "quoted"', n: -7, big: 0, at: '2026-01-01T00:00:00.123Z', doc: [] },
];
const COLUMNS = { name: 'text', n: 'integer', big: 'bigint', at: 'time', doc: 'json' } as const;

async function readBack(db: SqlDb): Promise<unknown[]> {
  const rows = await db.query(
    `SELECT name, n, big, at, doc FROM ${jsonRows(db.dialect, '$1', COLUMNS)} ORDER BY n DESC`,
    [JSON.stringify(ROWS)],
  );
  return rows.map((r) => ({
    name: text(r.name),
    n: int(r.n),
    big: int(r.big),
    at: iso(r.at),
    doc: json(r.doc),
  }));
}

describe('jsonRows', () => {
  let dir: string;
  let database: TestDatabase;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-json-rows-'));
    database = await createTestDatabase();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await database.drop();
  });

  it('reads the same rows back on SQLite', async () => {
    const db = new SqliteSqlDb(join(dir, 'rows.sqlite'));
    try {
      assert.deepEqual(await readBack(db), ROWS);
    } finally {
      await db.close();
    }
  });

  it('reads the same rows back on PostgreSQL', async () => {
    const db = await PostgresSqlDb.open(database.url);
    try {
      assert.deepEqual(await readBack(db), ROWS);
    } finally {
      await db.close();
    }
  });

  it('refuses a column name that is not a plain identifier', () => {
    assert.throws(() => jsonRows('sqlite', '$1', { 'a; DROP TABLE t': 'text' }), /not a plain column name/);
  });
});
