import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SqliteGroupCommit } from './sqlite-group-commit.ts';

/** A process's one connection to a SQLite file, shared by every store in that file. */
export interface SqliteConnection {
  readonly db: Database.Database;
  /** Write transactions go through here: one COMMIT (and fsync) per event-loop turn for the whole file. */
  readonly commits: SqliteGroupCommit;
  /** Drops this user's hold; the last one commits what is queued and closes the connection. */
  release(): Promise<void>;
}

interface Shared {
  db: Database.Database;
  commits: SqliteGroupCommit;
  users: number;
}

const open = new Map<string, Shared>();

/**
 * The connection to `file`, opened on first use (WAL, synchronous FULL, foreign keys, a 5 s busy timeout,
 * statement journals in memory: on disk, each statement that fires a trigger opened a temporary file, which
 * made the allocation INSERT, with its live-sums trigger, cost four times as much).
 * Canon Memory, the wallet's ledger and billing's records live in one file; on separate connections each
 * store's commits paid their own fsync and invalidated the others' page caches. Sharing one connection lets
 * their writes of one turn share one COMMIT. `:memory:` is never shared (each is a database of its own).
 */
export function openSqliteConnection(file: string): SqliteConnection {
  const key = file === ':memory:' ? undefined : resolve(file);
  let shared = key === undefined ? undefined : open.get(key);
  if (!shared) {
    if (key !== undefined) mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('temp_store = MEMORY');
    db.pragma('busy_timeout = 5000');
    shared = { db, commits: new SqliteGroupCommit(db), users: 0 };
    if (key !== undefined) open.set(key, shared);
  }
  shared.users++;
  const held = shared;
  let released = false;
  return {
    db: held.db,
    commits: held.commits,
    async release() {
      if (released) return;
      released = true;
      held.users--;
      if (held.users > 0) return;
      if (key !== undefined && open.get(key) === held) open.delete(key);
      await held.commits.drain();
      held.db.close();
    },
  };
}
