import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { SqliteCheckpointer } from './sqlite-checkpointer.ts';
import { SqliteGroupCommit } from './sqlite-group-commit.ts';
import { SqliteWalSync } from './sqlite-wal-sync.ts';

/** A process's one connection to a SQLite file, shared by every store in that file. */
export interface SqliteConnection {
  readonly db: Database.Database;
  /** Write transactions go through here: one COMMIT (and fsync) per event-loop turn for the whole file. */
  readonly commits: SqliteGroupCommit;
  /** The WAL's checkpoints, off the event loop; none for `:memory:`. */
  readonly checkpoints: SqliteCheckpointer | undefined;
  /** Drops this user's hold; the last one commits what is queued and closes the connection. */
  release(): Promise<void>;
}

/** How the WAL is flushed after a COMMIT (SqliteWalSync). */
export interface WalFlush {
  sync(): Promise<void>;
  close(): void;
}

/**
 * For tests that must provoke what a healthy disk never does (a failed flush, a checkpoint worker that dies):
 * used only by the call that opens the connection; later openers of the same file share it as it is.
 */
export interface SqliteConnectionParts {
  walFlush?: (walFile: string) => WalFlush;
  checkpointWorker?: (file: string) => Worker;
}

interface Shared {
  db: Database.Database;
  commits: SqliteGroupCommit;
  checkpoints: SqliteCheckpointer | undefined;
  walSync: WalFlush | undefined;
  users: number;
}

const open = new Map<string, Shared>();

/**
 * The connection to `file`, opened on first use (WAL, foreign keys, a 5 s busy timeout, statement journals in
 * memory: on disk, each statement that fires a trigger opened a temporary file, which made the allocation
 * INSERT, with its live-sums trigger, cost four times as much).
 * Canon Memory, the wallet's ledger and billing's records live in one file; on separate connections each
 * store's commits paid their own fsync and invalidated the others' page caches. Sharing one connection lets
 * their writes of one turn share one COMMIT. `:memory:` is never shared (each is a database of its own).
 *
 * Durability is synchronous FULL's (a write is acknowledged once it would survive a power loss), but under
 * load neither the fsync nor the checkpoint runs on the event loop, where together they had been half of its
 * busy time: the connection is synchronous NORMAL (no fsync inside COMMIT) without automatic checkpoints; the
 * group commit acknowledges a batch after an fdatasync of the WAL (sqlite-wal-sync.ts) on the thread pool; and
 * a worker thread checkpoints (sqlite-checkpointer.ts). A batch committed and not yet flushed is visible to reads in that millisecond, as
 * with SQLite's own NORMAL; no write is acknowledged before its flush, and a write made after seeing it is
 * flushed after it (the WAL is flushed in order).
 */
export function openSqliteConnection(file: string, parts: SqliteConnectionParts = {}): SqliteConnection {
  const key = file === ':memory:' ? undefined : resolve(file);
  let shared = key === undefined ? undefined : open.get(key);
  if (!shared) {
    if (key !== undefined) mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    const wal = db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
    db.pragma('foreign_keys = ON');
    db.pragma('temp_store = MEMORY');
    db.pragma('busy_timeout = 5000');
    if (wal && key !== undefined) {
      db.pragma('synchronous = NORMAL');
      db.pragma('wal_autocheckpoint = 0');
      const walSync = (parts.walFlush ?? ((wal) => new SqliteWalSync(wal)))(`${key}-wal`);
      let checkpoints: SqliteCheckpointer | undefined = undefined;
      const commits = new SqliteGroupCommit(db, {
        sync: () => walSync.sync(),
        afterCommit: () => checkpoints?.committed(),
      });
      // Undefined interval and worker: the checkpointer's own defaults.
      checkpoints = new SqliteCheckpointer(key, commits, db, undefined, parts.checkpointWorker);
      shared = { db, commits, checkpoints, walSync, users: 0 };
    } else {
      db.pragma('synchronous = FULL');
      shared = {
        db,
        commits: new SqliteGroupCommit(db),
        checkpoints: undefined,
        walSync: undefined,
        users: 0,
      };
    }
    if (key !== undefined) open.set(key, shared);
  }
  shared.users++;
  const held = shared;
  let released = false;
  return {
    db: held.db,
    commits: held.commits,
    checkpoints: held.checkpoints,
    async release() {
      if (released) return;
      released = true;
      held.users--;
      if (held.users > 0) return;
      if (key !== undefined && open.get(key) === held) open.delete(key);
      await held.commits.drain();
      await held.checkpoints?.close();
      held.walSync?.close();
      // The last connection to close checkpoints everything (flushing the WAL, then the database) and
      // deletes the WAL.
      held.db.close();
    },
  };
}
