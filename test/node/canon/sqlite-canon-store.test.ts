// What only the SQLite adapter has; the shared behaviour is in canon-store-contract.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { LIVE_TOTALS, SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import {
  SQLITE_MIGRATIONS,
  applySqliteMigrations,
} from '../../../backend-adapter/canon/sqlite-migrations.ts';

const WORKER = join(import.meta.dirname, 'sqlite-genesis-worker.ts');

describe('SQLite Canon Memory', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-canon-'));
    file = join(dir, 'canon.sqlite');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports its schema version and refuses a file written by newer code', async () => {
    const store = new SqliteCanonStore(file);
    const newest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));
    assert.equal(store.schemaVersion(), newest);
    await store.close();
    const raw = new Database(file);
    raw
      .prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (99, ?)')
      .run(new Date().toISOString());
    raw.close();
    assert.throws(
      () => new SqliteCanonStore(file),
      new RegExp(`schema version 99, newer than this code \\(${newest}\\)`),
    );
  });

  it('never edits a released migration (version 1 is frozen)', () => {
    const sha = (sql: string | undefined) =>
      createHash('sha256')
        .update(sql ?? '')
        .digest('hex')
        .slice(0, 16);
    assert.equal(sha(SQLITE_MIGRATIONS.find((m) => m.version === 1)?.sql), '02f4cc4d73353bca');
  });

  it("reads /metrics' live totals from the unfinished sessions alone, with no index on state to keep", async () => {
    // A file at version 6 (with the index on state), brought up to date.
    const raw = new Database(file);
    applySqliteMigrations(
      raw,
      SQLITE_MIGRATIONS.filter((m) => m.version <= 6),
    );
    const indexes = () =>
      raw
        .prepare<[], { name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions'",
        )
        .all()
        .map((r) => r.name);
    assert.ok(indexes().includes('sessions_state'));
    applySqliteMigrations(raw);
    assert.ok(!indexes().includes('sessions_state'), 'each transition no longer rewrites it');
    const plan = raw
      .prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN ${LIVE_TOTALS}`)
      .all()
      .map((r) => r.detail)
      .join('\n');
    assert.match(plan, /USING INDEX sessions_unfinished/);
    raw.close();
  });

  it('holds a limit across processes writing the same file (BEGIN IMMEDIATE)', async () => {
    new SqliteCanonStore(file).close();
    const children = Array.from({ length: 4 }, (_, i) =>
      spawn(process.execPath, ['--import', 'tsx', WORKER, file, `p${i}`], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    for (const it of lines) assert.equal((await it.next()).value, 'ready');
    for (const child of children) child.stdin.write('go\n');
    const tallies = await Promise.all(
      lines.map(async (it) => JSON.parse(String((await it.next()).value)) as { ok: number; refused: number }),
    );
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null))),
      ),
    );
    assert.equal(
      tallies.reduce((sum, t) => sum + t.ok, 0),
      3,
    );
    assert.equal(
      tallies.reduce((sum, t) => sum + t.refused, 0),
      17,
    );
    const store = new SqliteCanonStore(file);
    assert.equal((await store.listSessions({ userId: 'u1', tenantId: 't1' })).length, 3);
    await store.close();
  });
});
