import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import {
  SQLITE_MIGRATIONS,
  applySqliteMigrations,
} from '../../../backend-adapter/canon/sqlite-migrations.ts';
import { describeCanonStoreContract, type SqlRows } from './canon-store-contract.ts';

/** Raw SQL through a connection of its own, as another program touching the file would. */
function rawSql(file: string): (statement: string) => Promise<SqlRows> {
  return async (statement) => {
    const db = new Database(file);
    try {
      db.pragma('busy_timeout = 5000');
      const prepared = db.prepare(statement);
      if (prepared.reader) return prepared.all() as SqlRows;
      prepared.run();
      return [];
    } finally {
      db.close();
    }
  };
}

async function tempFile(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vsc-canon-contract-'));
  return { dir, file: join(dir, 'canon.sqlite') };
}

describeCanonStoreContract(
  'SQLite',
  async () => {
    const { dir, file } = await tempFile();
    const store = new SqliteCanonStore(file);
    return {
      store,
      reopen: async () => new SqliteCanonStore(file),
      sql: rawSql(file),
      async cleanup() {
        await store.close().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  async () => {
    const { dir, file } = await tempFile();
    const db = new Database(file);
    applySqliteMigrations(
      db,
      SQLITE_MIGRATIONS.filter((m) => m.version === 1),
    );
    db.close();
    return {
      sql: rawSql(file),
      open: async () => new SqliteCanonStore(file),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
);
